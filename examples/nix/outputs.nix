# Passing values between jobs in the original NixActions style. A job's `outputs` are
# artifacts (files), not GitHub's job outputs: a job writes its values to files, keeps them as
# an artifact, and a job that needs it restores the artifact and reads them (here into
# $JOB_ENV, so every later action has them). outputs.yml is the same workflow in YAML.
{ pkgs, nixactions, executor ? nixactions.executors.local }:

nixactions.mkWorkflow {
  name = "outputs";

  jobs = {
    version = {
      inherit executor;
      actions = [
        {
          name = "compute";
          bash = ''
            mkdir -p meta
            echo "1.4.2" > meta/VERSION
            echo "rc1" > meta/CHANNEL
            echo "computed version $(cat meta/VERSION)-$(cat meta/CHANNEL)"
          '';
        }
      ];
      outputs = { meta = "meta/"; };
    };

    # Two jobs read the same values.
    release = {
      needs = [ "version" ];
      inherit executor;
      inputs = [ "meta" ];
      actions = [
        {
          name = "read";
          bash = ''
            echo "VERSION=$(cat meta/VERSION)" >> "$JOB_ENV"
            echo "CHANNEL=$(cat meta/CHANNEL)" >> "$JOB_ENV"
          '';
        }
        { name = "tag"; bash = ''echo "tagging v$VERSION-$CHANNEL"''; }
        { name = "notes"; bash = ''echo "release notes for $VERSION"''; }
      ];
    };

    docs = {
      needs = [ "version" ];
      inherit executor;
      inputs = [ { name = "meta"; path = "from-version/"; } ];
      actions = [
        { name = "docs"; bash = ''echo "docs for $(cat from-version/meta/VERSION)"''; }
      ];
    };
  };
}
