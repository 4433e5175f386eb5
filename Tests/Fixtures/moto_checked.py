"""moto's S3 server with three of S3's checks that moto leaves out, for the s3 cache backend's
tests (Tests/TestSupport/MotoServer.swift starts it with the python next to `moto_server`).

Usage: python3 moto_checked.py HOST PORT

- A PUT carrying `x-amz-checksum-crc32` is refused with 400 BadDigest when the body's CRC32
  differs (S3 checks the value before it keeps the bytes; moto stores it unchecked).
- A request with an `x-amz-*` header that its SigV4 `SignedHeaders` does not list is refused with
  403 AccessDenied ("There were headers present in the request which were not signed").
- A CompleteMultipartUpload for an upload started with `x-amz-checksum-algorithm: CRC32` must list
  each part's `ChecksumCRC32`, equal to the value that part was uploaded with (400 InvalidPart
  otherwise; S3 answers so too).

`GET /nxa-checks` answers how many bodies passed the CRC32 check; `GET /nxa-checks?bad-digest-next=N`
makes the next N bodies carrying a CRC32 be refused with BadDigest whatever their bytes, as if they
had been damaged on the way (how the tests check that the client sends such a body again).

`GET /nxa-checks?replace-after-get=TEXT&with=BASE64` makes the next GET of an object whose path
(`/BUCKET/KEY`) contains TEXT replace that object with the given bytes once its old bytes were
read: another client's write that falls between a reader's GET and its next request (how the
tests check that the s3 backend's lease renewal and take-over are conditional, `If-Match`).

Bodies are read by their Content-Length (the backend and curl send one); a chunked or aws-chunked
body is not understood here.

Everything else is moto's own server (the same application and `run_simple` as `moto_server`).
"""
import base64
import io
import re
import sys
import threading
import zlib
from urllib.parse import parse_qs

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import run_simple

moto_app = DomainDispatcherApplication(create_backend_app)
lock = threading.Lock()
checksummed_uploads = set()  # upload ids started with x-amz-checksum-algorithm: CRC32
part_checksums = {}           # (upload id, part number) -> the CRC32 the part arrived with
counts = {"checked_bodies": 0, "bad_digest_next": 0}
replace_after_get = []        # [(text in the path, new bytes)], the next GET that matches takes one


def replace_object(path, body):
    """Write `body` as the object at `/BUCKET/KEY`, through moto's own backend (new ETag)."""
    from moto.s3.models import s3_backends
    bucket, _, key = path.lstrip("/").partition("/")
    for account in list(s3_backends.keys()):
        for partition in ("aws",):
            backend = s3_backends[account][partition]
            if bucket in backend.buckets:
                backend.put_object(bucket, key, body)
                return


def refuse(start_response, status, code, message):
    body = (f'<?xml version="1.0" encoding="UTF-8"?><Error><Code>{code}</Code>'
            f"<Message>{message}</Message></Error>").encode()
    start_response(status, [("Content-Type", "application/xml"), ("Content-Length", str(len(body)))])
    return [body]


def read_body(environ):
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(length) if length else b""
    environ["wsgi.input"] = io.BytesIO(body)
    return body


def checked(environ, start_response):
    method = environ["REQUEST_METHOD"]
    query = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
    if environ.get("PATH_INFO") == "/nxa-checks":  # what the checks saw, for the tests
        if "bad-digest-next" in query:
            with lock:
                counts["bad_digest_next"] = int(query["bad-digest-next"][0])
        if "replace-after-get" in query:
            with lock:
                replace_after_get.append((query["replace-after-get"][0], base64.b64decode(query["with"][0])))
        with lock:
            body = f"checked_bodies={counts['checked_bodies']}".encode()
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
        return [body]

    authorization = environ.get("HTTP_AUTHORIZATION", "")
    found = re.search(r"SignedHeaders=([^,\s]+)", authorization)
    if found:
        signed = set(found.group(1).split(";"))
        for name in environ:
            if name.startswith("HTTP_X_AMZ_"):
                header = name[5:].lower().replace("_", "-")
                if header not in signed:
                    return refuse(start_response, "403 Forbidden", "AccessDenied",
                                  f"There were headers present in the request which were not signed: {header}")

    crc_header = environ.get("HTTP_X_AMZ_CHECKSUM_CRC32")
    if method == "PUT" and crc_header is not None:
        body = read_body(environ)
        actual = base64.b64encode(zlib.crc32(body).to_bytes(4, "big")).decode()
        with lock:
            damaged = counts["bad_digest_next"] > 0
            if damaged:
                counts["bad_digest_next"] -= 1
        if damaged or actual != crc_header:
            return refuse(start_response, "400 Bad Request", "BadDigest",
                          f"The CRC32 you specified ({crc_header}) did not match the calculated checksum ({actual}).")
        with lock:
            counts["checked_bodies"] += 1
            if "uploadId" in query and "partNumber" in query:
                part_checksums[(query["uploadId"][0], int(query["partNumber"][0]))] = crc_header

    if method == "POST" and "uploadId" in query:
        upload_id = query["uploadId"][0]
        with lock:
            expects = upload_id in checksummed_uploads
        if expects:
            body = read_body(environ).decode("utf-8", "replace")
            for part in re.findall(r"<Part>(.*?)</Part>", body, re.S):
                number = re.search(r"<PartNumber>\s*(\d+)\s*</PartNumber>", part)
                listed = re.search(r"<ChecksumCRC32>([^<]*)</ChecksumCRC32>", part)
                with lock:
                    uploaded = part_checksums.get((upload_id, int(number.group(1)))) if number else None
                if not number or not listed or listed.group(1) != uploaded:
                    return refuse(start_response, "400 Bad Request", "InvalidPart",
                                  "One or more of the specified parts could not be found or its checksum did not match.")

    if method == "POST" and "uploads" in query and environ.get("HTTP_X_AMZ_CHECKSUM_ALGORITHM", "").upper() == "CRC32":
        answer = b"".join(moto_app(environ, start_response))
        found = re.search(rb"<UploadId>([^<]+)</UploadId>", answer)
        if found:
            with lock:
                checksummed_uploads.add(found.group(1).decode())
        return [answer]

    if method == "GET" and replace_after_get:
        path = environ.get("PATH_INFO", "")
        with lock:
            found = next((entry for entry in replace_after_get if entry[0] in path), None)
            if found:
                replace_after_get.remove(found)
        if found:
            answer = b"".join(moto_app(environ, start_response))
            replace_object(path, found[1])
            return [answer]

    return moto_app(environ, start_response)


if __name__ == "__main__":
    run_simple(sys.argv[1], int(sys.argv[2]), checked, threaded=True)
