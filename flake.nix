{
  description = "NixActions: a local-first CI runner; workflows in YAML or in Nix (nixactions.mkWorkflow)";

  # No inputs on purpose: the Nix side of NixActions is plain data (nix/default.nix) and
  # needs no nixpkgs. See nix/README.md for what the package below is and is not.
  inputs = { };

  outputs = { self }:
    let
      systems = [ "x86_64-linux" "aarch64-linux" "x86_64-darwin" "aarch64-darwin" ];
      forAllSystems = f: builtins.listToAttrs (map (system: { name = system; value = f system; }) systems);
      nixactions = import ./nix { };

      # PLACEHOLDER package. NixActions is a Swift 6.3 program built with SwiftPM
      # (`swift build -c release`), which nixpkgs does not package at that version; this
      # derivation does not compile it. It installs the Nix library under
      # share/nixactions/nix and a bin/nixactions wrapper that runs the real binary
      # ($NIXACTIONS_BIN, else `nixactions` further on PATH) with NIXACTIONS_NIX_LIB set.
      # Its builder is the host's /bin/sh with /bin/mkdir, /bin/cp and /bin/chmod called by
      # absolute path, so it builds with the sandbox off (`--option sandbox false`).
      package = system: derivation {
        name = "nixactions-placeholder-0.1.0";
        inherit system;
        builder = "/bin/sh";
        lib = ./nix;
        wrapper = ''
          #!/bin/sh
          # Placeholder from NixActions' flake: runs the real nixactions binary.
          lib="@out@/share/nixactions/nix"
          export NIXACTIONS_NIX_LIB="''${NIXACTIONS_NIX_LIB:-$lib}"
          if [ -n "''${NIXACTIONS_BIN:-}" ]; then exec "$NIXACTIONS_BIN" "$@"; fi
          self="@out@/bin/nixactions"
          IFS=:
          for d in $PATH; do
            if [ -x "$d/nixactions" ] && [ "$d/nixactions" != "$self" ]; then exec "$d/nixactions" "$@"; fi
          done
          echo "nixactions: this is the flake's placeholder; build NixActions with 'swift build -c release' and set NIXACTIONS_BIN to .build/release/nixactions" >&2
          exit 127
        '';
        passAsFile = [ "wrapper" ];
        args = [ "-c" ''
          set -e
          /bin/mkdir -p "$out/bin" "$out/share/nixactions"
          /bin/cp -r "$lib" "$out/share/nixactions/nix"
          while IFS= read -r line || [ -n "$line" ]; do
            case "$line" in *@out@*) line="''${line%%@out@*}$out''${line#*@out@}" ;; esac
            printf '%s\n' "$line"
          done < "$wrapperPath" > "$out/bin/nixactions"
          /bin/chmod 755 "$out/bin/nixactions"
        '' ];
      };
    in
    {
      # The constructors, system-independent: nixactions.lib.mkWorkflow { ... }.
      # The original exposed them per system (nixactions.lib.${system}); both work.
      lib = nixactions // forAllSystems (_: nixactions);

      packages = forAllSystems (system: rec {
        nixactions = package system;
        default = nixactions;
      });

      apps = forAllSystems (system: rec {
        nixactions = {
          type = "app";
          program = "${self.packages.${system}.nixactions}/bin/nixactions";
        };
        default = nixactions;
      });
    };
}
