#!/bin/sh
# Make the image this example runs in, without any registry: busybox (Debian's busybox-static)
# and its applets, imported into podman as localhost/nixactions/busybox.
#   apt-get install podman runc busybox-static
#   sh examples/10-containers/build-image.sh
set -eu
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root/bin" "$root/tmp"
cp "$(command -v busybox)" "$root/bin/busybox"
for applet in $("$root/bin/busybox" --list); do
  [ "$applet" = busybox ] || ln -s busybox "$root/bin/$applet"
done
tar -C "$root" -c . | podman import --change 'ENV PATH=/usr/sbin:/usr/bin:/sbin:/bin' --change 'CMD ["sh"]' - localhost/nixactions/busybox
