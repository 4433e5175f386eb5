# The program a package is usually called by, when it differs from the package's name: how the
# runner finds a package of the stand-in pkgs on PATH (`deps`, "${pkgs.NAME}"). The one table of
# it: pkgs.nix puts it in each package, default.nix in each `deps` entry, and the host reads those.
{
  coreutils = "ls"; findutils = "find"; gnused = "sed"; gnugrep = "grep"; gawk = "awk";
  gnutar = "tar"; diffutils = "diff"; nodejs = "node"; nodejs_20 = "node"; nodejs_22 = "node";
  python3 = "python3"; python311 = "python3.11"; python312 = "python3.12"; openssh = "ssh";
  rustc = "rustc"; go = "go"; procps = "ps"; util-linux = "mount"; iproute2 = "ip";
  nixpkgs-fmt = "nixpkgs-fmt"; kubectl = "kubectl"; docker = "docker"; podman = "podman";
  ripgrep = "rg"; neovim = "nvim"; python313 = "python3.13"; nodejs_18 = "node"; nodejs_24 = "node";
  gnumake = "make"; bashInteractive = "bash"; inetutils = "hostname"; gcc = "gcc"; openjdk = "java";
  jdk = "java"; ncurses = "tput"; bind = "dig"; dnsutils = "dig"; netcat = "nc"; awscli2 = "aws";
  which = "which"; cacert = ""; gzip = "gzip"; xz = "xz"; bzip2 = "bzip2";
  "nodePackages.prettier" = "prettier";
}
