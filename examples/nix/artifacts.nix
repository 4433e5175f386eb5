# Artifacts in the original NixActions style: a job's `outputs` are files it keeps (by name,
# with their layout) when it ends, and `inputs` restores them into a later job's workspace
# before its first action. A job that restores an artifact must need the job that makes it.
# artifacts.yml is the same workflow in YAML.
{ pkgs, nixactions, executor ? nixactions.executors.local }:

nixactions.mkWorkflow {
  name = "artifacts";

  jobs = {
    build = {
      inherit executor;
      actions = [
        {
          name = "build";
          bash = ''
            mkdir -p dist/bin dist/doc
            echo "app v1" > dist/bin/app
            echo "read me" > dist/doc/README
            echo "built 2 files"
          '';
        }
      ];
      # NAME = PATH: dist/ is kept as dist/..., not flattened.
      outputs = { dist = "dist/"; };
    };

    reports = {
      inherit executor;
      actions = [
        {
          name = "test";
          bash = ''
            mkdir -p reports
            echo "3 tests passed" > reports/tests.txt
          '';
        }
      ];
      outputs = { reports = "reports/"; };
    };

    package = {
      needs = [ "build" "reports" ];
      inherit executor;
      inputs = [
        "dist"                                   # restored into the workspace: dist/...
        { name = "reports"; path = "in/"; }      # restored under in/: in/reports/...
      ];
      actions = [
        {
          name = "list";
          deps = [ pkgs.findutils ];
          bash = "find dist in -type f | sort";
        }
        {
          name = "package";
          bash = ''
            echo "packaging $(cat dist/bin/app) with $(cat in/reports/tests.txt)"
            tar -cf app.tar dist
            echo "app.tar holds $(tar -tf app.tar | grep -c -v '/$') files"
          '';
        }
      ];
    };
  };
}
