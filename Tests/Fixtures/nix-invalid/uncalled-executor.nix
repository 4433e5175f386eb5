{ pkgs, nixactions }:

nixactions.mkWorkflow {
  name = "uncalled-executor";
  jobs.deploy = {
    executor = nixactions.executors.k8s;   # k8s always takes its options
    actions = [ { bash = "kubectl version"; } ];
  };
}
