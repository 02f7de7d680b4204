"""Views that exercise every path through a WSGI server: templates, forms with CSRF,
uploads, streaming, file hand-off (wsgi.file_wrapper) and a crash."""
import hashlib
import os
import time

from django import forms
from django.conf import settings
from django.http import FileResponse, HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST


class GreetingForm(forms.Form):
    name = forms.CharField(max_length=100)


class UploadForm(forms.Form):
    file = forms.FileField()


def index(request):
    return render(request, "pages/index.html", {"path": request.path})


def greet(request):
    greeting = None
    if request.method == "POST":
        form = GreetingForm(request.POST)
        if form.is_valid():
            greeting = "Hello, %s!" % form.cleaned_data["name"]
    else:
        form = GreetingForm()
    return render(request, "pages/greet.html", {"form": form, "greeting": greeting})


def upload(request):
    if request.method == "POST":
        form = UploadForm(request.POST, request.FILES)
        if form.is_valid():
            f = form.cleaned_data["file"]
            digest = hashlib.sha256()
            for chunk in f.chunks():
                digest.update(chunk)
            return JsonResponse({"name": f.name, "size": f.size, "sha256": digest.hexdigest()})
        return JsonResponse({"errors": form.errors}, status=400)
    return render(request, "pages/upload.html", {"form": UploadForm()})


def stream(request):
    """Yields `count` lines, `delay` seconds apart: a client sees each as it is produced."""
    count = min(int(request.GET.get("count", "5")), 100)
    delay = min(float(request.GET.get("delay", "0.2")), 2.0)

    def lines():
        for i in range(count):
            if i:
                time.sleep(delay)
            yield "line %d\n" % i

    return StreamingHttpResponse(lines(), content_type="text/plain; charset=utf-8")


def sample_file():
    """A 256 KiB file of known content under MEDIA_ROOT, written on first use."""
    path = os.path.join(settings.MEDIA_ROOT, "data.bin")
    if not os.path.exists(path):
        os.makedirs(settings.MEDIA_ROOT, exist_ok=True)
        tmp = "%s.%d" % (path, os.getpid())
        with open(tmp, "wb") as f:
            f.write(bytes(i % 251 for i in range(256 * 1024)))
        os.replace(tmp, path)
    return path


def download(request):
    """Django's FileResponse: a WSGI server with wsgi.file_wrapper sends it from disk."""
    return FileResponse(open(sample_file(), "rb"), as_attachment=True, filename="data.bin")


def crash(request):
    raise RuntimeError("lifecycle crash view: this error is deliberate")


@csrf_exempt
@require_POST
def echo(request):
    """Echoes the raw body's length and digest (for body buffering tests)."""
    body = request.body
    return JsonResponse({"size": len(body), "sha256": hashlib.sha256(body).hexdigest()})
