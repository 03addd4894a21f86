"""Writing pages: new assessment, new evidence, the review queue. (Placeholders until the web-app work lands.)"""

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.views.decorators.http import require_POST


@login_required
def assess(request, code):
    return HttpResponse("assess")


@login_required
def evidence_new(request):
    return HttpResponse("new evidence")


@login_required
def review_queue(request):
    return HttpResponse("review")


@login_required
@require_POST
def review_publish(request, pk):
    return HttpResponse("publish")


@login_required
@require_POST
def review_return(request, pk):
    return HttpResponse("return")


@login_required
def assessment_resubmit(request, pk):
    return HttpResponse("resubmit")
