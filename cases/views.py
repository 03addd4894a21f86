"""Reading pages: dashboard, recommendations, evidence. (Placeholders until the web-app work lands.)"""

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


@login_required
def evidence_list(request):
    return HttpResponse("Evidence")


@login_required
def evidence_detail(request, pk):
    return HttpResponse(str(pk))
