#!/usr/bin/env python3
"""Generate a corpus of credential and configuration files for
bench/accuracy.sh: one directory per case, each file holding one planted
password or secret (positives, listed in truth.tsv with the value), and the
same files holding placeholders instead (negatives, which must produce no
finding).

    python3 bench/gen_credentials.py OUT_DIR [SEED]

The values are generated here, at random, in the shapes real passwords
take: words with digits (`hunter22`), words with symbols and digits
(`Pass!12345`), capitalised words (`RedisPass1!`), random strings, hex
session secrets. Nothing is copied from a corpus.
"""

import base64
import os
import random
import sys

WORDS = [
    "hunter", "admin", "dragon", "sunshine", "monkey", "shadow", "master", "welcome",
    "letmein", "football", "redis", "mongo", "server", "summer", "winter", "orange",
    "falcon", "tiger", "silver", "rocket", "castle", "harbor", "maple", "copper",
]
SYMBOLS = "!@#%^&*"
PLACEHOLDERS = [
    "password", "changeme", "<password>", "${DB_PASSWORD}", "%(password)s", "****",
    "your-password", "",
]


def word_password(rng):
    w = rng.choice(WORDS)
    shape = rng.randrange(4)
    if shape == 0:
        return f"{w}{rng.randrange(10, 99)}"
    if shape == 1:
        return f"{w}{rng.randrange(100, 9999)}"
    if shape == 2:
        return f"{w.capitalize()}{rng.choice(SYMBOLS)}{rng.randrange(10000, 99999)}"
    return f"{w.capitalize()}{rng.choice(WORDS).capitalize()}{rng.randrange(1, 9)}{rng.choice(SYMBOLS)}"


def random_string(rng, n, alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"):
    return "".join(rng.choice(alphabet) for _ in range(n))


def hexs(rng, n):
    return random_string(rng, n, "0123456789abcdef")


def b64(s):
    return base64.b64encode(s.encode()).decode()


# (file path, template with {v} for the value, kind of value)
# kind: "word" (a word-like password), "random", "hex128", "hex32",
# "django", "laravel", "b64word" (base64 of a word password), "hexword".
CASES = [
    (".netrc", "machine ftp.acme.io login backup password {v}\n", "word"),
    (".pgpass", "db.acme.io:5432:orders:app:{v}\n", "word"),
    (".git-credentials", "https://deploy:{v}@git.acme.io\n", "word"),
    (".npmrc", "registry=https://npm.acme.io/\n//npm.acme.io/:_password={v}\nemail=ci@acme.io\n", "b64word"),
    (".pypirc", "[distutils]\nindex-servers = pypi\n\n[pypi]\nusername = acme\npassword = {v}\n", "word"),
    (".docker/config.json", '{{"auths": {{"registry.acme.io": {{"auth": "{v}"}}}}}}\n', "b64userword"),
    (".s3cfg", "[default]\naccess_key = AKIA{ak}\nsecret_key = {v}\nhost_base = s3.amazonaws.com\n", "random40"),
    ("home/.aws/credentials", "[default]\naws_access_key_id = AKIA{ak}\naws_secret_access_key = {v}\n", "random40"),
    ("home/.kube/config", "apiVersion: v1\nusers:\n- name: admin\n  user:\n    username: admin\n    password: {v}\n", "word"),
    (".my.cnf", "[client]\nuser=root\npassword={v}\nhost=db.acme.io\n", "word"),
    ("FileZilla/sitemanager.xml", "<FileZilla3><Servers><Server><Host>ftp.acme.io</Host><User>web</User><Pass>{v}</Pass></Server></Servers></FileZilla3>\n", "word"),
    ("WinSCP.ini", "[Sessions\\web@ftp.acme.io]\nHostName=ftp.acme.io\nUserName=web\nPassword={v}\n", "hexword"),
    (".dbeaver/data-sources.json", '{{"connections": {{"pg": {{"configuration": {{"host": "db", "user": "app", "password": "{v}"}}}}}}}}\n', "word"),
    ("robo3t.json", '{{"connections": [{{"credentials": [{{"userName": "app", "userPassword": "{v}"}}]}}]}}\n', "word"),
    (".idea/dataSources.xml", '<component name="DataSourceManagerImpl"><data-source name="pg"><property name="password" value="{v}"/></data-source></component>\n', "word"),
    ("sftp-config.json", '{{\n    "type": "sftp",\n    "host": "web.acme.io",\n    "user": "deploy",\n    "password": "{v}",\n}}\n', "word"),
    ("mysite/settings.py", "DEBUG = False\nSECRET_KEY = '{v}'\n", "django"),
    ("config/secrets.yml", "production:\n  secret_key_base: {v}\n", "hex128"),
    ("laravel/.env", "APP_NAME=shop\nAPP_KEY={v}\n", "laravel"),
    ("src/main/resources/application.properties", "spring.datasource.url=jdbc:postgresql://db/app\nspring.datasource.password={v}\n", "word"),
    ("wp-config.php", "<?php\ndefine( 'DB_NAME', 'wp' );\ndefine( 'DB_PASSWORD', '{v}' );\n", "word"),
    ("includes/config.php", "<?php\n$db_host = 'localhost';\n$db_pass = '{v}';\n", "word"),
    (".env", "DB_HOST=db\nDB_PASSWORD={v}\n", "word"),
    ("tests/fixtures/.env", "REDIS_PASSWORD={v}\n", "word"),
    ("conf/app.ini", "[database]\nhost = db\npassword = {v}\n", "word"),
    ("deploy/values.yaml", "database:\n  user: app\n  password: {v}\n", "word"),
    ("config/db.json", '{{"user": "app", "password": "{v}"}}\n', "word"),
    ("config/db.xml", "<db><user>app</user><password>{v}</password></db>\n", "word"),
    ("db/dump.sql", "CREATE USER 'app'@'%' IDENTIFIED BY '{v}';\n", "word"),
    ("etc/shadow", "deploy:{v}:19000:0:99999:7:::\n", "sha512crypt"),
    ("site/.htpasswd", "admin:{v}\n", "bcrypt"),
    ("config/jdbc.properties", "url=jdbc:mysql://db.acme.io:3306/app?user=app&password={v}&useSSL=true\n", "word"),
    ("config/odbc.ini", "conn = Driver={{ODBC Driver 18}};Server=db.acme.io;Uid=app;Pwd={v};\n", "word"),
    ("Web.config", '<connectionStrings><add name="db" connectionString="Server=db;Database=app;User Id=app;Password={v};" /></connectionStrings>\n', "word"),
    ("docker-compose.yml", "services:\n  app:\n    environment:\n      DATABASE_URL: postgres://app:{v}@db:5432/app\n", "word"),
    ("config/service.yml", "service:\n  api_key: {v}\n", "hex32"),
]


def value(kind, rng):
    if kind == "word":
        return word_password(rng)
    if kind == "random40":
        return random_string(rng, 40, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+/")
    if kind == "hex128":
        return hexs(rng, 128)
    if kind == "hex32":
        return hexs(rng, 32)
    if kind == "django":
        return random_string(rng, 50, "abcdefghijklmnopqrstuvwxyz0123456789!@#%^&*(-_=+)")
    if kind == "laravel":
        return "base64:" + base64.b64encode(bytes(rng.randrange(256) for _ in range(32))).decode()
    if kind == "b64word":
        return b64(word_password(rng))
    if kind == "b64userword":
        return b64("ci:" + word_password(rng) + random_string(rng, 6))
    if kind == "hexword":
        return hexs(rng, 4) + word_password(rng).encode().hex().upper() + hexs(rng, 8).upper()
    if kind == "sha512crypt":
        return "$6$" + random_string(rng, 8) + "$" + random_string(rng, 86, "./0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
    if kind == "bcrypt":
        return "$2y$10$" + random_string(rng, 53, "./0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
    raise ValueError(kind)


def main():
    out = sys.argv[1]
    rng = random.Random(int(sys.argv[2]) if len(sys.argv) > 2 else 21)
    truth = []
    for i, (path, template, kind) in enumerate(CASES):
        for copy in range(3):
            v = value(kind, rng)
            ak = random_string(rng, 16, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
            d = os.path.join(out, "pos", f"{i:02d}-{copy}")
            f = os.path.join(d, path)
            os.makedirs(os.path.dirname(f), exist_ok=True)
            with open(f, "w") as fh:
                fh.write(template.format(v=v, ak=ak))
            truth.append((os.path.relpath(f, out), v))
        if kind in ("word", "b64word"):
            for j, p in enumerate(PLACEHOLDERS):
                d = os.path.join(out, "neg", f"{i:02d}-{j}")
                f = os.path.join(d, path)
                os.makedirs(os.path.dirname(f), exist_ok=True)
                with open(f, "w") as fh:
                    fh.write(template.format(v=p, ak="EXAMPLEEXAMPLEEX"))
    with open(os.path.join(out, "truth.tsv"), "w") as fh:
        for path, v in truth:
            fh.write(f"{path}\t{v}\n")


if __name__ == "__main__":
    main()
