#!/usr/bin/env python3
"""Redis corpus helper for make-corpus.sh: writes RESP command streams for
`redis-cli --pipe`.

  gen_redis.py load   OUT.resp STATE.json TARGET_MB SEED
      initial data set (~TARGET_MB of values); STATE.json records key counts
  gen_redis.py change OUT.resp STATE.json PCT SEED
      touches ~PCT% of the keys (updates, deletes, appends, new keys)

Key families (mixed types, app-like values):
  user:<id>               hash    profile fields, bio text, prefs JSON
  session:<token>         string  JSON session blob
  feed:user:<id>          list    JSON activity entries (newest first)
  product:<id>            string  JSON product with description text
  cart:<id>               hash    sku -> quantity
  leaderboard:weekly:<n>  zset    user ids by score
  ratelimit:<ip>:<min>    string  small counters
"""

import hashlib
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import textgen as tg  # noqa: E402

NOW = 1_703_980_800  # simulated "now" (epoch seconds), fixed for determinism


class Resp:
    def __init__(self, path):
        self.f = open(path, "wb", buffering=1 << 20)
        self.bytes = 0
        self.cmds = 0

    def __call__(self, *args):
        out = [b"*%d\r\n" % len(args)]
        for a in args:
            if not isinstance(a, bytes):
                a = str(a).encode()
            out.append(b"$%d\r\n%s\r\n" % (len(a), a))
            self.bytes += len(a)
        self.f.write(b"".join(out))
        self.cmds += 1

    def close(self):
        self.f.close()


def token(seed, i):
    return hashlib.sha1(("%s/session/%d" % (seed, i)).encode()).hexdigest()[:32]


def user_fields(rng, uid, t):
    first, last, email = tg.person(rng)
    street = tg.street(rng)
    city, cc, postal = tg.city(rng)
    f = ["first_name", first, "last_name", last, "email", email,
         "phone", tg.phone(rng), "street", street, "city", city,
         "postal_code", postal, "country", cc,
         "plan", rng.choice(["free", "free", "free", "plus", "pro", "team"]),
         "created_at", str(t - rng.randrange(86400 * 900)),
         "last_login", str(t - rng.randrange(86400 * 30)),
         "login_count", str(rng.randrange(1, 2000)),
         "prefs", json.dumps({"lang": rng.choice(["en", "de", "fr", "es", "it", "ja"]),
                              "newsletter": rng.random() < 0.3,
                              "theme": rng.choice(["light", "dark", "system"]),
                              "tz": rng.choice(["UTC", "Europe/Berlin", "America/New_York",
                                                "Asia/Tokyo", "Europe/London"])},
                             separators=(",", ":"))]
    if rng.random() < 0.35:
        f += ["bio", tg.paragraph(rng, 1, 3)]
    return f


def session_json(rng, uid, t):
    return json.dumps({
        "user_id": uid, "created": t - rng.randrange(86400 * 7),
        "last_seen": t - rng.randrange(3600), "ip": tg.doc_ip(rng),
        "ua": rng.choice(["Mozilla/5.0 (X11; Linux x86_64) Firefox/121.0",
                          "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/120.0",
                          "Mozilla/5.0 (iPhone; CPU iPhone OS 17_2) Mobile/15E148",
                          "okhttp/4.12.0", "Mozilla/5.0 (Macintosh) Safari/605.1.15"]),
        "csrf": hashlib.md5(str(rng.random()).encode()).hexdigest(),
        "flash": tg.sentence(rng, 3, 9) if rng.random() < 0.2 else None,
        "cart": [{"sku": "SKU-%06d" % rng.randrange(200000), "qty": rng.randint(1, 4)}
                 for _ in range(rng.randrange(5))],
    }, separators=(",", ":"))


def feed_entry(rng, uid, t):
    return json.dumps({
        "ts": t - rng.randrange(86400 * 60), "actor": uid,
        "verb": rng.choice(["liked", "commented", "ordered", "reviewed", "followed",
                            "shared", "returned"]),
        "object": "product:%d" % rng.randrange(1, 100000),
        "text": tg.sentence(rng, 4, 18) if rng.random() < 0.6 else "",
    }, separators=(",", ":"))


def product_json(rng, pid, version=0):
    w = tg.words(rng, rng.randint(2, 4))
    return json.dumps({
        "id": pid, "sku": "SKU-%06d" % pid, "v": version,
        "name": " ".join(x.capitalize() for x in w),
        "price_cents": rng.randrange(199, 99999), "currency": "EUR",
        "stock": rng.randrange(0, 500),
        "tags": tg.words(rng, rng.randint(1, 6)),
        "description": tg.paragraph(rng, 2, 6),
        "rating": round(rng.uniform(1, 5), 1), "reviews": rng.randrange(0, 3000),
    }, separators=(",", ":"))


def load(out, state_path, target_mb, seed):
    target = int(float(target_mb) * 1e6)
    budget = {"user": 0.35, "session": 0.20, "feed": 0.25, "product": 0.15,
              "cart": 0.03}
    r = Resp(out)
    rng = tg.new_rng(seed, "redis-load")
    st = {}

    def fill(name, fn):
        start = r.bytes
        n = 0
        while r.bytes - start < target * budget[name]:
            n += 1
            fn(n)
        st[name] = n

    fill("user", lambda i: r("HSET", "user:%d" % i, *user_fields(rng, i, NOW)))
    fill("session", lambda i: r("SET", "session:" + token(seed, i),
                                session_json(rng, rng.randint(1, st["user"]), NOW)))

    def feed(i):
        uid = rng.randint(1, st["user"])
        r("RPUSH", "feed:user:%d" % i,
          *[feed_entry(rng, uid, NOW) for _ in range(rng.randint(5, 50))])
    fill("feed", feed)
    fill("product", lambda i: r("SET", "product:%d" % i, product_json(rng, i)))

    def cart(i):
        items = []
        for _ in range(rng.randint(1, 8)):
            items += ["SKU-%06d" % rng.randrange(1, st["product"] + 1), str(rng.randint(1, 5))]
        r("HSET", "cart:%d" % i, *items)
    fill("cart", cart)

    st["leaderboard"] = 20
    for b in range(st["leaderboard"]):
        members = []
        for _ in range(1000):
            members += [str(rng.randrange(100000)), "user:%d" % rng.randint(1, st["user"])]
        r("ZADD", "leaderboard:weekly:%d" % b, *members)
    st["ratelimit"] = 5000
    for i in range(st["ratelimit"]):
        r("SET", "ratelimit:%s:%d" % (tg.doc_ip(rng), i), str(rng.randint(1, 120)))
    r.close()
    with open(state_path, "w") as f:
        json.dump(st, f)
    print("keys=%d value_bytes=%d %s" % (sum(st.values()), r.bytes, st))


def change(out, state_path, pct, seed):
    p = float(pct) / 100.0
    with open(state_path) as f:
        st = json.load(f)
    r = Resp(out)
    rng = tg.new_rng(seed, "redis-change")
    t = NOW + 3600
    touched = 0
    for i in range(1, st["user"] + 1):
        if rng.random() < p:
            touched += 1
            if rng.random() < 0.8:
                r("HSET", "user:%d" % i, "last_login", str(t - rng.randrange(3600)),
                  "login_count", str(rng.randrange(1, 2000)))
            else:
                r("HSET", "user:%d" % i, *user_fields(rng, i, t))
    new_sessions = 0
    for i in range(1, st["session"] + 1):
        if rng.random() < p:
            touched += 1
            if rng.random() < 0.5:
                r("DEL", "session:" + token(seed, i))
                new_sessions += 1
            else:
                r("SET", "session:" + token(seed, i),
                  session_json(rng, rng.randint(1, st["user"]), t))
    for j in range(new_sessions):
        r("SET", "session:" + token(seed, st["session"] + 1 + j),
          session_json(rng, rng.randint(1, st["user"]), t))
    for i in range(1, st["feed"] + 1):
        if rng.random() < p:
            touched += 1
            key = "feed:user:%d" % i
            r("LPUSH", key, *[feed_entry(rng, i, t) for _ in range(rng.randint(1, 3))])
            r("LTRIM", key, "0", "49")
    for i in range(1, st["product"] + 1):
        if rng.random() < p:
            touched += 1
            r("SET", "product:%d" % i, product_json(rng, i, 1))
    for i in range(1, st["cart"] + 1):
        if rng.random() < p:
            touched += 1
            r("HINCRBY", "cart:%d" % i, "SKU-%06d" % rng.randrange(1, st["product"] + 1), "1")
    for b in range(st["leaderboard"]):
        for _ in range(int(1000 * p)):
            r("ZINCRBY", "leaderboard:weekly:%d" % b, str(rng.randrange(1, 500)),
              "user:%d" % rng.randint(1, st["user"]))
    new_users = max(1, int(st["user"] * p / 4))
    for k in range(new_users):
        uid = st["user"] + 1 + k
        r("HSET", "user:%d" % uid, *user_fields(rng, uid, t))
    r.close()
    print("touched_keys=%d new_sessions=%d new_users=%d value_bytes=%d"
          % (touched, new_sessions, new_users, r.bytes))


def main(argv):
    if len(argv) == 6 and argv[1] == "load":
        load(argv[2], argv[3], argv[4], argv[5])
    elif len(argv) == 6 and argv[1] == "change":
        change(argv[2], argv[3], argv[4], argv[5])
    else:
        sys.stderr.write(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
