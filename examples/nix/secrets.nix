# Secrets in the original NixActions style, with this runner's secret providers (the entries
# of docs/secrets.md). Every value a provider delivers is masked as *** in all output.
# Run it with the token in the environment:
#   DEMO_TOKEN=s3cr3t-demo-value nixactions run examples/nix/secrets.nix
# secrets.yml is the same workflow in YAML.
{ pkgs, nixactions, executor ? nixactions.executors.local }:

nixactions.mkWorkflow {
  name = "secrets";

  env = {
    # A name that looks secret (…_PASSWORD, …_TOKEN, API_KEY, …): its value is masked too.
    DB_PASSWORD = "hunter2-demo";
  };

  # The env provider: DEMO_TOKEN from the environment nixactions runs in (unset: the run stops
  # before any job, exit status 2). It is a variable of every action, and ${{ secrets.DEMO_TOKEN }}.
  secrets = [ (nixactions.secrets.env [ "DEMO_TOKEN" ]) ];

  jobs = {
    deploy = {
      inherit executor;
      # A job's own entry: the same variable, renamed, for this job only.
      secrets = [ { provider = "env"; names = [ "DEMO_TOKEN" ]; as = "DEPLOY_TOKEN"; } ];
      actions = [
        {
          name = "use-token";
          bash = ''
            echo "the token is $DEMO_TOKEN"
            echo "calling https://deploy.example/hook?token=$DEMO_TOKEN"
            echo "deploy token: $DEPLOY_TOKEN"
            echo "db password: $DB_PASSWORD"
          '';
        }
        {
          name = "expression";
          # ''${{ … }} in a ''…'' string is a GitHub expression, evaluated by the runner.
          bash = ''echo "from the expression: ''${{ secrets.DEMO_TOKEN }}"'';
        }
      ];
    };

    other = {
      needs = [ "deploy" ];
      inherit executor;
      actions = [
        {
          name = "no-deploy-token";
          bash = ''
            echo "DEPLOY_TOKEN here: ''${DEPLOY_TOKEN:-unset}"
            [ -n "$DEMO_TOKEN" ] && echo "DEMO_TOKEN is set here too"
          '';
        }
      ];
    };
  };
}
