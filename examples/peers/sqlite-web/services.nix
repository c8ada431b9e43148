# process-compose-flake's example (example/flake.nix): a one-shot job
# imports the Chinook database into SQLite, then sqlite-web serves it once
# the import completed. Here the database lives in a shared volume, so the
# job's file reaches the web app under every manager:
#
#   nix2dream render --plugin procfile examples/peers/sqlite-web/services.nix --out deploy
#   cd deploy && honcho start      # then open http://127.0.0.1:18213/
#
# Packages come from `pkgs` (a full nixpkgs: --nixpkgs or NIX2DREAM_NIXPKGS).
{ pkgs, ... }:
let
  database = "/var/lib/sqlite-web/data.sqlite";
in
{
  name = "sqlite-web";
  settings.compose.publishAddress = "127.0.0.1";
  volumes.data.description = "The SQLite database";

  services.sqlite-init = {
    description = "Imports the Chinook database";
    package = pkgs.sqlite;
    process.argv = [
      "${pkgs.sqlite}/bin/sqlite3"
      database
      ".read ${./chinook.sql}"
    ];
    volumes.data = {
      path = "/var/lib/sqlite-web";
      shared = "data";
    };
    oneShot = true;
    restart = "no";
  };

  services.sqlite-web = {
    description = "Browses the database over HTTP";
    package = pkgs.sqlite-web;
    process.argv = [
      "${pkgs.sqlite-web}/bin/sqlite_web"
      "--host"
      "0.0.0.0"
      "--port"
      "18213"
      "--no-browser"
      database
    ];
    volumes.data = {
      path = "/var/lib/sqlite-web";
      shared = "data";
    };
    ports.http.port = 18213;
    healthcheck = {
      http.port = 18213;
      interval = 2;
      retries = 30;
    };
    dependsOn.sqlite-init.condition = "completed";
  };
}
