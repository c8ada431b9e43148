# A three-service demo that needs nothing from nixpkgs but lib: the processes
# use the python3 and sh already on the machine, and all state lives under
# /tmp/nix2dream-demo, so it runs without root.
#
#   nix2dream eval examples/demo/services.nix     # -> deployment.json
#   nix2dream render examples/demo/services.nix --plugin procfile --out out
{ lib, ... }:
let
  root = "/tmp/nix2dream-demo";
  port = 18080;
in
{
  name = "demo";

  services.web = {
    description = "Static web site served by python3 http.server";
    process.argv = [
      "python3"
      "-m"
      "http.server"
      (toString port)
      "--bind"
      "127.0.0.1"
    ];
    workingDirectory = "${root}/web";
    env = {
      PYTHONUNBUFFERED = 1;
      SITE_NAME = "nix2dream demo";
    };
    # The page it serves, written into its working directory.
    configData."index.html".text = ''
      <!doctype html>
      <title>nix2dream demo</title>
      <h1>Hello from nix2dream</h1>
      <p>Served by python3 http.server on port ${toString port}.</p>
    '';
    # Read at evaluation time, so the rendered output does not depend on the
    # Nix store (a `source` would be copied from the store at start-up).
    configData."motd.txt".text = builtins.readFile ./motd.txt;
    volumes.site = {
      path = "${root}/web";
      persistent = false;
    };
    ports.http.port = port;
    healthcheck = {
      http = {
        inherit port;
        path = "/index.html";
      };
      interval = 2;
      timeout = 2;
      retries = 5;
    };
    restart = "always";
  };

  services.worker = {
    description = "Fetches the web page every 2 seconds and logs the result";
    process.argv = [
      "python3"
      "-c"
      ''
        import os, time, urllib.request
        url = os.environ["TARGET_URL"]
        log = os.path.join(os.environ["OUT_DIR"], "fetches.log")
        while True:
            try:
                status = urllib.request.urlopen(url, timeout=5).status
            except Exception as e:
                status = repr(e)
            with open(log, "a") as f:
                f.write(f"{time.strftime('%H:%M:%S')} {url} {status}\n")
            time.sleep(2)
      ''
    ];
    workingDirectory = "${root}/worker";
    env = {
      TARGET_URL = "http://127.0.0.1:${toString port}/index.html";
      OUT_DIR = "${root}/worker";
      PYTHONUNBUFFERED = true;
    };
    volumes.out.path = "${root}/worker";
    dependsOn.web.condition = "healthy";
    replicas = 2;
    resources = {
      cpus = 0.5;
      memoryMiB = 64;
    };
  };

  services.queue = {
    description = "A spool-directory queue: moves jobs from incoming/ to done/";
    process.argv = [
      "sh"
      "-c"
      ''
        mkdir -p incoming done
        while true; do
          for job in incoming/*; do
            [ -e "$job" ] || continue
            mv "$job" done/ && echo "processed $(basename "$job")"
          done
          sleep 1
        done
      ''
    ];
    workingDirectory = "${root}/queue";
    volumes.spool.path = "${root}/queue";
    healthcheck.command = [
      "test"
      "-d"
      "${root}/queue/incoming"
    ];
    restart = "always";
    ignoreUnsupported = [ "healthcheck" ];
  };
}
