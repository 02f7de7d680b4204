"""A small Flask app for narwhal:  narwhal --chdir examples/flask_app app:app"""
import hashlib
import io
import time

from flask import Flask, Response, abort, jsonify, render_template_string, request, send_file

app = Flask(__name__)

PAGE = """<!DOCTYPE html>
<html><head><title>flask on narwhal</title></head>
<body><h1>{{ title }}</h1><p>{{ message }}</p></body></html>
"""


@app.get("/")
def index():
    return render_template_string(PAGE, title="flask on narwhal", message="Hello from Flask")


@app.get("/hello/<name>")
def hello(name):
    return render_template_string(PAGE, title="hello", message="Hello, %s!" % name)


@app.route("/echo", methods=["POST", "PUT"])
def echo():
    body = request.get_data()
    return jsonify(size=len(body), sha256=hashlib.sha256(body).hexdigest(),
                   content_type=request.content_type)


@app.post("/upload")
def upload():
    f = request.files.get("file")
    if f is None:
        abort(400)
    digest = hashlib.sha256()
    size = 0
    while True:
        chunk = f.stream.read(65536)
        if not chunk:
            break
        size += len(chunk)
        digest.update(chunk)
    return jsonify(name=f.filename, size=size, sha256=digest.hexdigest(),
                   fields=request.form.to_dict())


@app.get("/stream")
def stream():
    count = min(request.args.get("count", 5, type=int), 100)
    delay = min(request.args.get("delay", 0.2, type=float), 2.0)

    def lines():
        for i in range(count):
            if i:
                time.sleep(delay)
            yield "line %d\n" % i

    return Response(lines(), mimetype="text/plain")


@app.get("/file")
def file():
    data = bytes(i % 251 for i in range(64 * 1024))
    return send_file(io.BytesIO(data), mimetype="application/octet-stream")


@app.get("/crash")
def crash():
    raise RuntimeError("flask crash view: this error is deliberate")
