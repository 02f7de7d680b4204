from django.urls import path

from . import views

urlpatterns = [
    path("", views.index, name="index"),
    path("greet/", views.greet, name="greet"),
    path("upload/", views.upload, name="upload"),
    path("stream/", views.stream, name="stream"),
    path("download/", views.download, name="download"),
    path("crash/", views.crash, name="crash"),
    path("echo/", views.echo, name="echo"),
]
