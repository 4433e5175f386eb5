{ pkgs, nixactions, executor ? nixactions.executors.local }:

nixactions.mkWorkflow {
  name = "missing-semicolon"
  jobs.hello = {
    inherit executor;
    actions = [ { bash = "echo hello"; } ];
  };
}
