# The database's start: what the mariadb image's entry point does for
# awesome-compose (MYSQL_DATABASE, MYSQL_ROOT_PASSWORD_FILE).
set -eu
datadir=/var/lib/blog-db
if [ ! -d "$datadir/mysql" ]; then
  mariadb-install-db --no-defaults --basedir="$MARIADB" --datadir="$datadir" \
    --auth-root-authentication-method=normal --skip-test-db --skip-name-resolve \
    --force > /dev/null  # (--force: no DNS needed, e.g. in a container)
fi
# The root password, from the secret, set at each start; the file it is
# written to is private to this start.
password=$(sed "s/'/''/g; s/\\\\/\\\\\\\\/g" "$DB_PASSWORD_FILE")
init=$(mktemp -d)/init.sql
cat > "$init" <<SQL
CREATE DATABASE IF NOT EXISTS example;
CREATE USER IF NOT EXISTS 'root'@'%' IDENTIFIED BY '$password';
ALTER USER 'root'@'%' IDENTIFIED BY '$password';
ALTER USER 'root'@'localhost' IDENTIFIED BY '$password';
GRANT ALL ON *.* TO 'root'@'%';
SQL
mkdir -p /run/mysqld
exec mariadbd --no-defaults --basedir="$MARIADB" --datadir="$datadir" --user=root \
  --port="$PORT" --bind-address=0.0.0.0 --socket=/run/mysqld/blog-db.sock \
  --lc-messages-dir="$MARIADB/share/mysql" \
  --init-file="$init"
