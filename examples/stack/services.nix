# A small application of three services, the shape of the peers' examples
# (awesome-compose's nginx-flask-mysql, arion's traefik): a one-shot
# migration that prepares the data in a shared volume, an API on an
# internal port that serves it, and a web front end that shows what the API
# serves. One definition for every manager:
#
#   nix2dream render --plugin compose examples/stack/services.nix --out deploy
#   for image in deploy/images/*.tar; do docker load -i "$image"; done
#   docker-compose -f deploy/compose.yaml up -d
#   curl http://127.0.0.1:18091/       # web, published on host port 18091
#
#   nix2dream render --plugin procfile examples/stack/services.nix --out deploy
#   cd deploy && honcho start          # web on 127.0.0.1:18090 (its own port)
#
# It needs nothing from nixpkgs but lib; its one program is Debian's static
# busybox (`apt-get install busybox-static`), copied into the store.
{ config, ... }:
let
  busybox = builtins.path {
    name = "busybox";
    path = /usr;
    filter = path: type: path == "/usr/bin" || path == "/usr/bin/busybox";
  };
  sh = script: [
    "busybox"
    "sh"
    "-c"
    script
  ];
in
{
  name = "stack";
  settings.compose.publishAddress = "127.0.0.1";
  # Every service's environment, under its own.
  env.TZ = "UTC";
  # Mounted by the migration (to write) and the API (to serve).
  volumes.appdata.description = "The application's data";

  services.migrate = {
    description = "Prepares the data once, then exits 0";
    package = busybox;
    # Written beside its place, then renamed: the API, started at the same
    # time where the manager has no start-up order (a Procfile), serves the
    # whole page or none, never a half-written one.
    process.argv = sh "echo 'api says hello' > /srv/data/index.html.new && busybox mv /srv/data/index.html.new /srv/data/index.html && echo migrated";
    volumes.data = {
      path = "/srv/data";
      shared = "appdata";
    };
    oneShot = true;
    restart = "no";
  };

  services.api = {
    description = "The API: reachable by the other services only";
    package = busybox;
    process.argv = [
      "busybox"
      "httpd"
      "-f"
      "-p"
      "18100"
      "-h"
      "/srv/data"
    ];
    workingDirectory = "/srv/api";
    volumes.data = {
      path = "/srv/data";
      shared = "appdata";
      readOnly = true;
    };
    ports.http = {
      port = 18100;
      internal = true;
    };
    healthcheck = {
      command = [
        "busybox"
        "wget"
        "-q"
        "-O"
        "/dev/null"
        "http://127.0.0.1:18100/"
      ];
      interval = 1;
      retries = 20;
    };
    stopSignal = "SIGINT";
    stopTimeout = 5;
  };

  services.web = {
    description = "The front end: serves what the API answers";
    package = busybox;
    process.argv = sh ''
      busybox mkdir -p www
      while :; do
        busybox wget -q -O www/index.html.new "$API_URL" && busybox mv www/index.html.new www/index.html
        busybox sleep 1
      done &
      exec busybox httpd -f -p 18090 -h www
    '';
    workingDirectory = "/srv/web";
    # The API's address as this manager reaches it (api:18100 or 127.0.0.1:18100).
    env.API_URL = "http://${config.services.api.ports.http.address}/";
    ports.http = {
      port = 18090;
      hostPort = 18091;
    };
    dependsOn.api.condition = "healthy";
    dependsOn.migrate.condition = "completed";
  };

  # The API answers once the migration wrote its page.
  services.api.dependsOn.migrate.condition = "completed";
}
