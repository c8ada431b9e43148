# arion's traefik example (examples/traefik/arion-compose.nix): traefik as
# the HTTP reverse proxy in front of a small site served by Python, routed
# by host name. Open http://nix-docs.localhost:18380/ (or send that `Host`).
#
# arion routes with Docker labels read through the Docker socket, which
# only Docker has. Here traefik's file provider holds the same route, and
# the site's address is the one each manager gives (nix-docs:18382 under
# compose and Kubernetes, 127.0.0.1:18382 under a Procfile or systemd), so
# one definition runs everywhere. As in arion, both stop on SIGINT.
#
#   nix2dream render --plugin systemd examples/peers/traefik/services.nix --out deploy
#
# Packages come from `pkgs` (a full nixpkgs: --nixpkgs or NIX2DREAM_NIXPKGS).
{ config, pkgs, ... }:
let
  webPort = 18380;
  dashboardPort = 18381;
  docsPort = 18382;
in
{
  name = "traefik";
  settings.compose.publishAddress = "127.0.0.1";

  services.traefik = {
    description = "traefik, the reverse proxy";
    package = pkgs.traefik;
    process.argv = [
      "${pkgs.traefik}/bin/traefik"
      "--api.insecure=true"
      "--entrypoints.web.address=:${toString webPort}"
      "--entrypoints.traefik.address=:${toString dashboardPort}"
      "--providers.file.filename=${config.services.traefik.configData."routes.toml".path}"
    ];
    configData."routes.toml".text = ''
      [http.routers.nix-docs]
      rule = "Host(`nix-docs.localhost`)"
      entryPoints = ["web"]
      service = "nix-docs"

      [[http.services.nix-docs.loadBalancer.servers]]
      url = "http://${config.services.nix-docs.ports.http.address}/"
    '';
    ports.web.port = webPort;
    ports.dashboard.port = dashboardPort;
    stopSignal = "SIGINT";
    dependsOn.nix-docs = { };
  };

  services.nix-docs = {
    description = "The site, reachable through traefik only";
    package = pkgs.python3;
    process.argv = [
      "python3"
      "-m"
      "http.server"
      "--directory"
      ./site
      (toString docsPort)
    ];
    ports.http = {
      port = docsPort;
      internal = true;
    };
    stopSignal = "SIGINT";
  };
}
