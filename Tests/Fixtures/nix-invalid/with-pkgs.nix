{ pkgs, nixactions }:

nixactions.mkWorkflow {
  name = "with-pkgs";
  jobs.search = {
    executor = nixactions.executors.local;
    # The stand-in pkgs only has the names the file spells as pkgs.NAME.
    actions = [ { deps = with pkgs; [ ripgrep ]; bash = "rg TODO"; } ];
  };
}
