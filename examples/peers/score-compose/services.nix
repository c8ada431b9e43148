# score-compose's examples 01 to 05 (examples/01-hello … 05-volume-mounts),
# as one deployment:
#   01-hello              a busybox loop saying hello;
#   02-environment        variables, some shared by every workload (the
#                         deployment-wide `env`), some the workload's own;
#   03-files              a file written from inline content;
#   04-multiple-workloads a second workload, which reaches the first at the
#                         address each manager gives (score's
#                         `${resources.…host}`);
#   05-volume-mounts      a volume both workloads mount.
# hello-world-2 publishes the page it builds from all of that:
#
#   nix2dream render --plugin compose examples/peers/score-compose/services.nix --out deploy
#   for image in deploy/images/*.tar; do docker load -i "$image"; done
#   docker-compose -f deploy/compose.yaml up -d
#   curl http://127.0.0.1:18480/
#
# Packages come from `pkgs` (a full nixpkgs: --nixpkgs or NIX2DREAM_NIXPKGS).
{ config, pkgs, ... }:
{
  name = "score-samples";
  settings.compose.publishAddress = "127.0.0.1";
  env.GREETING = "Hello";
  volumes.data.description = "Mounted by both workloads";

  services.hello-world = {
    description = "01-hello, 02-environment, 03-files";
    package = pkgs.busybox;
    process.argv = [
      "sh"
      "-c"
      ''
        echo "$GREETING $NAME! $(cat "$FILE_A")" > /data/index.html
        while true; do echo "$GREETING $NAME!"; sleep 5; done &
        exec httpd -f -p 18481 -h /data
      ''
    ];
    env.NAME = "World";
    env.FILE_A = config.services.hello-world.configData."fileA.txt".path;
    configData."fileA.txt".text = "This is a file from the hello-world workload.";
    volumes.data = {
      path = "/data";
      shared = "data";
    };
    ports.web = {
      port = 18481;
      internal = true;
    };
    healthcheck = {
      http.port = 18481;
      interval = 1;
      retries = 30;
    };
  };

  services.hello-world-2 = {
    description = "04-multiple-workloads, 05-volume-mounts";
    package = pkgs.busybox;
    process.argv = [
      "sh"
      "-c"
      ''
        mkdir -p /srv/hello-world-2/www
        cd /srv/hello-world-2
        while true; do
          { wget -q -O - "http://$FIRST/" && cat /data/index.html && echo "$GREETING from $NAME"; } > www/page.new \
            && mv www/page.new www/index.html
          sleep 1
        done &
        exec httpd -f -p 18480 -h www
      ''
    ];
    env.NAME = "hello-world-2";
    env.FIRST = config.services.hello-world.ports.web.address;
    volumes.data = {
      path = "/data";
      shared = "data";
      readOnly = true;
    };
    volumes.www = {
      path = "/srv/hello-world-2";
      persistent = false;
    };
    ports.web.port = 18480;
    dependsOn.hello-world.condition = "healthy";
  };
}
