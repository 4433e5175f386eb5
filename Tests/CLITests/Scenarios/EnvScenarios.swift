import Foundation
import Testing
import TestSupport

@Suite("Scenarios: the environment a step sees")
struct EnvScenarios {
    /// Each variable is named after the levels that set it: W = workflow, J = job, S = step,
    /// C = `--env`. The value tells which level won.
    static let precedence = #"""
        name: envs
        env:
          W: workflow
          WJ: workflow
          WJS: workflow
          CW: workflow
          WG: workflow
        jobs:
          check:
            env:
              WJ: job
              WJS: job
              JG: job
            steps:
              - name: Levels
                env:
                  WJS: step
                  ONLY_STEP: step-only
                run: |
                  echo "W=$W WJ=$WJ WJS=$WJS CW=$CW C=$C ONLY_STEP=$ONLY_STEP"
                  echo "expr WJS=${{ env.WJS }} CW=${{ env.CW }}"
              - name: Write env and path
                run: |
                  echo "WG=github-env" >> "$GITHUB_ENV"
                  echo "JG=github-env" >> "$GITHUB_ENV"
                  echo "ADDED=added" >> "$GITHUB_ENV"
                  mkdir -p "$RUNNER_TEMP/bin"
                  printf '#!/bin/sh\necho hello from mytool\n' > "$RUNNER_TEMP/bin/mytool"
                  chmod +x "$RUNNER_TEMP/bin/mytool"
                  echo "$RUNNER_TEMP/bin" >> "$GITHUB_PATH"
                  echo "same step: ADDED=[${ADDED:-unset}] mytool=[$(command -v mytool || echo none)]"
              - name: Later
                run: |
                  echo "later: WG=$WG JG=$JG ADDED=$ADDED ONLY_STEP=[${ONLY_STEP:-unset}] WJS=$WJS"
                  echo "expr later: ADDED=${{ env.ADDED }}"
                  mytool
                  [ "${PATH%%:*}" = "$RUNNER_TEMP/bin" ] && echo "path starts with the GITHUB_PATH entry"
              - name: Runner variables
                run: |
                  echo "CI=$CI"
                  [ "$GITHUB_WORKSPACE" = "$PWD" ] && echo "steps start in GITHUB_WORKSPACE"
                  [ -d "$GITHUB_WORKSPACE" ] && [ -d "$RUNNER_TEMP" ] && echo "both folders exist"
                  [ "$GITHUB_WORKSPACE" != "$RUNNER_TEMP" ] && echo "they differ"
                  echo "job=$GITHUB_JOB workflow=$GITHUB_WORKFLOW"
          other:
            needs: check
            steps:
              - run: |
                  echo "other job: WG=$WG JG=[${JG:-unset}] ADDED=[${ADDED:-unset}]"
        """#

    @Test("workflow < job < step env < --env (issue 13: the original's precedence); GITHUB_ENV and GITHUB_PATH reach later steps only")
    func precedenceTable() async throws {
        let scenario = try Scenario()
        defer { scenario.remove() }
        let result = try await scenario.run(Self.precedence, ["--env", "CW=cli", "--env", "C=cli"])
        #expect(result.status == 0, "\(result.stdout)\n\(result.stderr)")
        let out = result.stdout
        // workflow < job < step < --env: a value given at run time wins over the workflow's.
        #expect(out.contains("[check] W=workflow WJ=job WJS=step CW=cli C=cli ONLY_STEP=step-only\n"))
        #expect(out.contains("[check] expr WJS=step CW=cli\n"))
        // GITHUB_ENV: not in the step that writes it, in every later step of the job, above workflow and job env.
        #expect(out.contains("[check] same step: ADDED=[unset] mytool=[none]\n"))
        #expect(out.contains("[check] later: WG=github-env JG=github-env ADDED=added ONLY_STEP=[unset] WJS=job\n"))
        #expect(out.contains("[check] expr later: ADDED=added\n"))
        // GITHUB_PATH prepends PATH for later steps.
        #expect(out.contains("[check] hello from mytool\n"))
        #expect(out.contains("[check] path starts with the GITHUB_PATH entry\n"))
        // Runner variables.
        #expect(out.contains("[check] CI=true\n"))
        #expect(out.contains("[check] steps start in GITHUB_WORKSPACE\n"))
        #expect(out.contains("[check] both folders exist\n"))
        #expect(out.contains("[check] they differ\n"))
        #expect(out.contains("[check] job=check workflow=envs\n"))
        // GITHUB_ENV belongs to its job: another job sees the workflow's value again.
        #expect(out.contains("[other] other job: WG=workflow JG=[unset] ADDED=[unset]\n"))
    }

    /// GitHub's runner evaluates a step's `env:` over the job environment that GITHUB_ENV updates,
    /// so the step's own env wins (issue 12: NixActions put GITHUB_ENV on top).
    @Test("a step's own env wins over a value written to GITHUB_ENV by an earlier step; later steps without it see GITHUB_ENV's")
    func githubEnvOverStepEnv() async throws {
        let scenario = try Scenario()
        defer { scenario.remove() }
        let result = try await scenario.run("""
            name: top
            env:
              V: workflow
            jobs:
              check:
                env:
                  V: job
                steps:
                  - run: echo "V=github-env" >> "$GITHUB_ENV"
                  - env:
                      V: step
                    run: echo "V=$V expr=${{ env.V }}"
                  - run: echo "after V=$V"
            """)
        #expect(result.status == 0, "\(result.stdout)\n\(result.stderr)")
        #expect(result.stdout.contains("[check] V=step expr=step\n"))
        #expect(result.stdout.contains("[check] after V=github-env\n"))
    }

    @Test("env.X that --env or an env file gives the run is defined: no warning that it is not (audit 64 cli M6); without them, the warning")
    func runtimeEnvIsDefined() async throws {
        let scenario = try Scenario()
        defer { scenario.remove() }
        let file = try scenario.temp.write("vars.env", "FROM_FILE=f\n")
        let workflow = try scenario.temp.write("wf.yml", """
            jobs:
              a:
                steps:
                  - run: echo "X=${{ env.X }} F=${{ env.FROM_FILE }} N=${{ env.NOPE }}"
            """)
        let given = try await nixactions(["run", workflow, "--env", "X=1", "--env-file", file, "--log-format", "plain"], in: scenario.temp.path)
        #expect(given.status == 0 && given.stdout.contains("[a] X=1 F=f N=\n"), "\(given.stdout)\(given.stderr)")
        #expect(!given.stderr.contains("env.X ") && !given.stderr.contains("env.FROM_FILE ") && given.stderr.contains("env.NOPE in 'run' is not defined"),
                "\(given.stderr)")
        let bare = try await nixactions(["run", workflow, "--log-format", "plain"], in: scenario.temp.path)
        #expect(bare.stderr.contains("env.X in 'run' is not defined at workflow, job or step level"), "\(bare.stderr)")
    }

    @Test("--env-file values are over the workflow's env, --env over --env-file, NIXACTIONS_ENV_FILES first; dotenv syntax (export, quotes, comments)")
    func envFile() async throws {
        let scenario = try Scenario()
        defer { scenario.remove() }
        let file = try scenario.temp.write("vars.env", """
            # the deploy gate of the original's example
            export BRANCH=main
            FROM_FILE=file
            BOTH=file
            QUOTED="two words"   # a comment
            SINGLE='$NOT_EXPANDED'
            LISTED=from-file
            """)
        let listed = try scenario.temp.write("listed.env", "LISTED=from-list\nONLY_LISTED=yes\n")
        let workflow = try scenario.temp.write("wf.yml", """
            name: envfile
            env:
              BRANCH: develop
              FROM_FILE: workflow
            jobs:
              check:
                env: { BOTH: job }
                steps:
                  - run: echo "BRANCH=main-from-github-env" >> "$GITHUB_ENV"
                  - run: |
                      echo "BRANCH=$BRANCH FROM_FILE=$FROM_FILE BOTH=$BOTH QUOTED=$QUOTED SINGLE=$SINGLE LISTED=$LISTED ONLY_LISTED=$ONLY_LISTED"
                      echo "expr BRANCH=${{ env.BRANCH }}"
                    env: { FROM_FILE: step }
                  - if: env.BRANCH == 'main'
                    run: echo "deploy gate open"
            """)
        let result = try await nixactions(["run", workflow, "--env-file", file, "--env", "BOTH=cli"], in: scenario.temp.path,
                                    environment: ["NIXACTIONS_ENV_FILES": listed])
        #expect(result.status == 0, "\(result.stdout)\n\(result.stderr)")
        #expect(result.stdout.contains("[check] BRANCH=main FROM_FILE=file BOTH=cli QUOTED=two words SINGLE=$NOT_EXPANDED LISTED=from-file ONLY_LISTED=yes\n"), "\(result.stdout)")
        #expect(result.stdout.contains("[check] expr BRANCH=main\n"))
        #expect(result.stdout.contains("[check] deploy gate open\n"))
    }

    @Test("a bad --env-file line or name exits 2 with the file and line; a NIXACTIONS_ENV_FILES file that cannot be read too")
    func badEnvFile() async throws {
        let scenario = try Scenario()
        defer { scenario.remove() }
        let workflow = try scenario.temp.write("wf.yml", "jobs:\n  a:\n    steps: [ { run: echo never } ]\n")
        let badName = try scenario.temp.write("bad.env", "OK=1\n9LIVES=x\n")
        let result = try await nixactions(["run", workflow, "--env-file", badName], in: scenario.temp.path)
        #expect(result.status == 2)
        #expect(result.stderr.contains("bad.env:2: error:") && result.stderr.contains("(--env-file)"), "\(result.stderr)")
        let badLine = try scenario.temp.write("line.env", "OK=1\nthis is not an assignment\n")
        let second = try await nixactions(["run", workflow, "--env-file", badLine], in: scenario.temp.path)
        #expect(second.status == 2)
        #expect(second.stderr.contains("line.env:2: error:"), "\(second.stderr)")
        let missing = try await nixactions(["run", workflow], in: scenario.temp.path, environment: ["NIXACTIONS_ENV_FILES": "/nonexistent/x.env"])
        #expect(missing.status == 2)
        #expect(missing.stderr.contains("error: cannot read NIXACTIONS_ENV_FILES '/nonexistent/x.env'"))
        #expect(!missing.stdout.contains("never"))
    }
}
