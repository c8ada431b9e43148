# awesome-compose's nginx-flask-mysql: an nginx proxy in front of a Flask
# backend that reads a MariaDB database, whose root password is a secret.
# The proxy finds the backend, and the backend the database, through the
# address each manager gives (backend:18000 under compose and Kubernetes,
# 127.0.0.1:18000 under a Procfile or systemd); the database and the
# backend are reachable by the other services only; the password is read
# from a file on the machine when the services start, and is in no rendered
# file and no image.
#
#   printf %s 'db-password' > /run/keys/nginx-flask-mysql/db-password
#   nix2dream render --plugin compose examples/peers/nginx-flask-mysql/services.nix --out deploy
#   for image in deploy/images/*.tar; do docker load -i "$image"; done
#   docker-compose -f deploy/compose.yaml up -d
#   curl http://127.0.0.1:18280/     # <div>   Hello  Blog post #1</div>…
#
# Packages come from `pkgs` (a full nixpkgs: --nixpkgs or NIX2DREAM_NIXPKGS).
{ config, pkgs, ... }:
let
  dbPort = 13306;
  backendPort = 18000;
  proxyPort = 18280;
  # Where the password is kept on the machine that runs the services; the
  # services read it at the same path (a Procfile has nowhere else to put it).
  passwordFile = "/run/keys/nginx-flask-mysql/db-password";
in
{
  name = "nginx-flask-mysql";
  settings.compose.publishAddress = "127.0.0.1";
  secrets.db-password = {
    file = passwordFile;
    kubernetes = {
      name = "nginx-flask-mysql";
      key = "db-password";
    };
  };

  services.db = {
    description = "MariaDB, the blog's database";
    package = pkgs.mariadb;
    path = [ pkgs.busybox ];
    process.argv = [
      "sh"
      ./db/start.sh
    ];
    env = {
      MARIADB = pkgs.mariadb;
      PORT = dbPort;
      DB_PASSWORD_FILE = passwordFile;
    };
    secrets.db-password.path = passwordFile;
    # (Not /var/lib/mysql: under a Procfile this is the machine's own path.)
    volumes.data.path = "/var/lib/blog-db";
    ports.mysql = {
      port = dbPort;
      internal = true;
    };
    healthcheck = {
      # `ping` answers once the server accepts connections, password or not.
      command = [
        "mariadb-admin"
        "--no-defaults"
        "--host=127.0.0.1"
        "--port=${toString dbPort}"
        "ping"
      ];
      interval = 2;
      retries = 60;
    };
    stopTimeout = 20;
  };

  services.backend = {
    description = "The Flask backend";
    package = pkgs.python3.withPackages (ps: [
      ps.flask
      ps.pymysql
    ]);
    process.argv = [
      "python3"
      ./backend/hello.py
    ];
    env = {
      DB_HOST = config.services.db.ports.mysql.host;
      DB_PORT = dbPort;
      DB_PASSWORD_FILE = passwordFile;
      PORT = backendPort;
    };
    secrets.db-password.path = passwordFile;
    ports.http = {
      port = backendPort;
      internal = true;
    };
    dependsOn.db.condition = "healthy";
  };

  services.proxy = {
    description = "nginx, in front of the backend";
    package = pkgs.nginx;
    process.argv = [
      "nginx"
      "-p"
      "/var/cache/nginx-proxy/"
      "-e"
      "stderr"
      "-c"
      # nginx.conf, below, is placed in the working directory.
      "${config.services.proxy.workingDirectory}/nginx.conf"
    ];
    workingDirectory = "/var/lib/nginx-proxy";
    configData."nginx.conf".text = ''
      daemon off;
      error_log stderr;
      pid /var/cache/nginx-proxy/nginx.pid;
      events {
        worker_connections 64;
      }
      http {
        access_log off;
        client_body_temp_path /var/cache/nginx-proxy/client_body;
        proxy_temp_path /var/cache/nginx-proxy/proxy;
        fastcgi_temp_path /var/cache/nginx-proxy/fastcgi;
        uwsgi_temp_path /var/cache/nginx-proxy/uwsgi;
        scgi_temp_path /var/cache/nginx-proxy/scgi;
        server {
          listen ${toString proxyPort};
          location / {
            proxy_pass http://${config.services.backend.ports.http.address};
          }
        }
      }
    '';
    volumes.cache = {
      path = "/var/cache/nginx-proxy";
      persistent = false;
    };
    ports.http.port = proxyPort;
    dependsOn.backend = { };
  };
}
