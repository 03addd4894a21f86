"""Placeholder views; the monitor web app (issue 3) replaces them."""

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse


@login_required
def dashboard(request):
    return HttpResponse("Accountability Tracker")


@login_required
def recommendation_list(request):
    return HttpResponse("Recommendations")


@login_required
def recommendation_detail(request, code):
    return HttpResponse(code)
