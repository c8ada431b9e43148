# awesome-compose's nginx-flask-mysql backend (backend/hello.py), with
# PyMySQL instead of mysql-connector and the database's address from the
# environment, where nix2dream puts the address each manager reaches it by.
import os

import pymysql
from flask import Flask


class DBManager:
    def __init__(self, database="example", user="root", password_file=None):
        with open(password_file) as pf:
            password = pf.read()
        self.connection = pymysql.connect(
            user=user,
            password=password,
            host=os.environ["DB_HOST"],
            port=int(os.environ["DB_PORT"]),
            database=database,
        )
        self.cursor = self.connection.cursor()

    def populate_db(self):
        self.cursor.execute("DROP TABLE IF EXISTS blog")
        self.cursor.execute("CREATE TABLE blog (id INT AUTO_INCREMENT PRIMARY KEY, title VARCHAR(255))")
        self.cursor.executemany(
            "INSERT INTO blog (id, title) VALUES (%s, %s);",
            [(i, "Blog post #%d" % i) for i in range(1, 5)],
        )
        self.connection.commit()

    def query_titles(self):
        self.cursor.execute("SELECT title FROM blog")
        return [c[0] for c in self.cursor]


server = Flask(__name__)
conn = None


@server.route("/")
def list_blog():
    global conn
    if not conn:
        conn = DBManager(password_file=os.environ["DB_PASSWORD_FILE"])
        conn.populate_db()
    response = ""
    for title in conn.query_titles():
        response = response + "<div>   Hello  " + title + "</div>"
    return response


if __name__ == "__main__":
    server.run(host="0.0.0.0", port=int(os.environ["PORT"]))
