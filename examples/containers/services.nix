# A deployment for containers (compose, docker, podman): every program comes
# from the Nix store, so the images need no base image. It needs nothing from
# nixpkgs but lib; its one program is Debian's static busybox
# (`apt-get install busybox-static`), copied into the store as it is evaluated.
# A real deployment would say `package = pkgs.nginx;` and the like.
#
#   nix2dream render --plugin compose examples/containers/services.nix --out deploy
#   for image in deploy/images/*.tar; do docker load -i "$image"; done
#   docker-compose -f deploy/compose.yaml up -d
#   curl http://127.0.0.1:18081/index.html
#   docker-compose -f deploy/compose.yaml exec poller busybox cat /var/lib/poller/fetches.log
{ lib, config, ... }:
let
  # Debian's static busybox, copied into the store as <store path>/bin/busybox:
  # a package with one program, that runs applets (`busybox httpd ...`).
  busybox = builtins.path {
    name = "busybox";
    path = /usr;
    filter = path: type: path == "/usr/bin" || path == "/usr/bin/busybox";
  };
  port = 18081;
in
{
  name = "containers";
  # Publish on loopback only.
  settings.compose.publishAddress = "127.0.0.1";

  services.web = {
    description = "A static site served by busybox httpd, as an unprivileged user";
    package = busybox;
    process.argv = [
      "busybox"
      "httpd"
      "-f"
      "-p"
      (toString port)
      "-h"
      "/srv/www"
    ];
    workingDirectory = "/srv/www";
    user = "www";
    configData."index.html".text = ''
      <h1>Hello from a nix2dream image</h1>
    '';
    ports.http.port = port;
    healthcheck = {
      command = [
        "busybox"
        "wget"
        "-q"
        "-O"
        "/dev/null"
        "http://127.0.0.1:${toString port}/index.html"
      ];
      interval = 1;
      retries = 10;
    };
    restart = "always";
    resources.memoryMiB = 64;
  };

  services.poller = {
    description = "Fetches the site every 2 seconds once it is healthy; keeps a log in its volume";
    package = busybox;
    process.argv = [
      "busybox"
      "sh"
      "-c"
      ''
        while true; do
          if busybox wget -q -O - "$TARGET" >/dev/null; then status=ok; else status=failed; fi
          echo "$(busybox date +%T) $TARGET $status" >> /var/lib/poller/fetches.log
          busybox sleep 2
        done
      ''
    ];
    # The web service's address as each manager reaches it: web:18081 under
    # compose and Kubernetes, 127.0.0.1:18081 under systemd, a Procfile or a VM.
    env.TARGET = "http://${config.services.web.ports.http.address}/index.html";
    volumes.state.path = "/var/lib/poller";
    user = "poller";
    dependsOn.web.condition = "healthy";
    restart = "always";
  };
}
