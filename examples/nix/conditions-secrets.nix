# Conditions and secrets in the original NixActions style. A condition is one of
# success() (the default), failure(), always(), cancelled(), or a bash test: exit 0 runs
# the job or action, anything else skips it.
{ pkgs, nixactions, executor ? nixactions.executors.local }:

nixactions.mkWorkflow {
  name = "conditions-secrets";

  env = { BRANCH = "main"; };

  # Names whose values are masked in every log line (the original's secrets design), and
  # provider entries of this runner (every value they deliver is a secret).
  secrets = [
    "API_KEY"
    (nixactions.secrets.sops { file = ./secrets.enc.yaml; keys = [ "DB_PASSWORD" ]; })
  ];

  envFrom = [
    # sops values are secrets; a missing file is an error unless required = false.
    (nixactions.envProviders.sops { file = ./secrets.enc.yaml; format = "yaml"; required = false; })
    (nixactions.envProviders.file { path = ".env.secrets"; secrets = true; })
  ];

  jobs = {
    test = {
      inherit executor;
      actions = [
        { name = "test"; bash = "echo testing"; }
        {
          name = "only-on-main";
          condition = ''[ "$BRANCH" = "main" ]'';
          bash = "echo on main";
        }
        {
          name = "cleanup";
          condition = "always()";
          bash = "echo cleanup";
        }
      ];
    };

    deploy = {
      needs = [ "test" ];
      condition = ''[ "$BRANCH" = "main" ] && test -n "''${API_KEY:-}"'';
      executor = nixactions.executors.oci { image = "docker.io/library/alpine:3.20"; mode = "isolated"; };
      secrets = [ (nixactions.secrets.env [ "DEPLOY_TOKEN" ]) ];
      actions = [
        {
          name = "deploy";
          bash = ''echo "deploying with $API_KEY"'';   # printed as ***
        }
      ];
    };

    rollback = {
      needs = [ "deploy" ];
      condition = "failure()";
      inherit executor;
      actions = [ { bash = "echo rolling back"; } ];
    };

    # The original's code read the job key "if" (its docs say condition): both are accepted.
    notify = {
      needs = [ "deploy" "rollback" ];
      "if" = "always()";
      inherit executor;
      actions = [ { bash = "echo notify"; } ];
    };
  };
}
