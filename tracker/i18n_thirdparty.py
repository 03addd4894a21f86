"""Messages of the libraries we use that appear on our pages, translated in our own catalogues (issue 11).

allauth, django-axes, django-simple-history, django-tasks and a few strings of Django's admin ship no Uyghur (and
some no Chinese, or a Chinese with English words left in it, "Email地址"). Our catalogue comes first
(LOCALE_PATHS), so an entry in locale/<lang>/LC_MESSAGES/django.po wins over the library's. The msgids are listed
here with gettext_noop so that `makemessages` keeps them in our catalogues; the walk in
tests/test_languages_pages.py finds any that is missing. The Chinese is the library's own where it had one without
English in it; everything else, and all the Uyghur, is ours (machine-assisted; a native speaker's review wanted).

`apply()` (from AccountsConfig.ready) gives a translatable name to the things the libraries leave in plain
English: django-tasks-db's app name, allauth's user-session model, and the text of the admin's yes/no icons (Django
writes the Python value, alt="True", in every language).
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from django.utils.translation import gettext_noop, pgettext_lazy

MESSAGES = [
    # allauth: sign-in, password reset, e-mail, second factor, sessions
    gettext_noop("Username or email"),
    pgettext_lazy("field label", "Login"),
    gettext_noop("Forgot your password?"),
    gettext_noop("The username and/or password you specified are not correct."),
    gettext_noop("This functionality requires JavaScript."),
    gettext_noop("Incorrect code."),
    gettext_noop("Password Reset"),
    gettext_noop(
        "Forgotten your password? Enter your email address below, and we'll send you an email allowing you to "
        "reset it."
    ),
    gettext_noop("Reset My Password"),
    gettext_noop("Please contact us if you have any trouble resetting your password."),
    gettext_noop(
        "We have sent you an email. If you have not received it please check your spam folder. Otherwise contact "
        "us if you do not receive it in a few minutes."
    ),
    gettext_noop("Change Password"),
    gettext_noop("Bad Token"),
    gettext_noop(
        "The password reset link was invalid, possibly because it has already been used.  Please request a "
        '<a href="%(passwd_reset_url)s">new password reset</a>.'
    ),
    gettext_noop("Your password is now changed."),
    gettext_noop("Confirm Email Address"),
    gettext_noop(
        'This email confirmation link expired or is invalid. Please <a href="%(email_url)s">issue a new email '
        "confirmation request</a>."
    ),
    gettext_noop("Verify Your Email Address"),
    gettext_noop(
        "We have sent an email to you for verification. Follow the link provided to finalize the signup process. "
        "If you do not see the verification email in your main inbox, check your spam folder. Please contact us if "
        "you do not receive the verification email within a few minutes."
    ),
    gettext_noop("Account Inactive"),
    gettext_noop("Email Addresses"),
    gettext_noop("The following email addresses are associated with your account:"),
    gettext_noop("Unverified"),
    gettext_noop("Make Primary"),
    gettext_noop("Re-send Verification"),
    gettext_noop("Add Email Address"),
    gettext_noop("Add Email"),
    gettext_noop("Do you really want to remove the selected email address?"),
    gettext_noop("Current Password"),
    gettext_noop("New Password"),
    gettext_noop("New Password (again)"),
    gettext_noop("Authenticator App"),
    gettext_noop("An authenticator app is not active."),
    gettext_noop("Security Keys"),
    gettext_noop("No security keys have been added."),
    gettext_noop("No recovery codes set up."),
    gettext_noop("You cannot activate two-factor authentication until you have verified your email address."),
    gettext_noop("Sign Out"),
    gettext_noop("Are you sure you want to sign out?"),
    gettext_noop("Authentication using an authenticator app is active."),
    gettext_noop("Deactivate"),
    gettext_noop("Download"),
    gettext_noop("Generate"),
    gettext_noop("Confirm Access"),
    gettext_noop("Please reauthenticate to safeguard your account."),
    gettext_noop("Enter your password:"),
    gettext_noop("Use authenticator app or code"),
    gettext_noop("Enter an authenticator code:"),
    gettext_noop("Use your password"),
    gettext_noop("Accounts"),
    gettext_noop("MFA"),
    gettext_noop("User Sessions"),
    gettext_noop("email addresses"),
    gettext_noop("email confirmation"),
    gettext_noop("user session"),
    gettext_noop("user sessions"),
    # django-simple-history (the admin's history pages)
    gettext_noop("Choose a date from the list below to revert to a previous version of this object."),
    gettext_noop("Changed"),
    gettext_noop("Deleted"),
    # django-tasks-db (the admin)
    gettext_noop("Task Result"),
    gettext_noop("Task Results"),
    gettext_noop("Background tasks"),
    # django-axes (the admin)
    gettext_noop("access attempt"),
    gettext_noop("access attempts"),
    gettext_noop("access attempt expiration"),
    gettext_noop("access failure"),
    gettext_noop("access failures"),
    gettext_noop("access log"),
    gettext_noop("access logs"),
    gettext_noop("Clean up expired attempts"),
    gettext_noop("Attempt Remaining"),
    gettext_noop("Attempt Time"),
    gettext_noop("IP Address"),
    gettext_noop("User Agent"),
    gettext_noop("Path"),
    gettext_noop("Failed Logins"),
    gettext_noop("Locked Out"),
    gettext_noop("Form Data"),
    gettext_noop("GET Data"),
    gettext_noop("POST Data"),
    gettext_noop("Meta Data"),
    gettext_noop("HTTP Accept"),
    gettext_noop("Logout Time"),
    gettext_noop("Access lock out"),
    # allauth's flash messages (templates/<app>/messages/*.txt: "Successfully signed in as alice." at the top of
    # the first page after signing in); tests/test_languages_admin_labels.py lists them from the package
    gettext_noop("Successfully signed in as %(name)s."),
    gettext_noop("You have signed out."),
    gettext_noop("Password successfully changed."),
    gettext_noop("Password successfully set."),
    gettext_noop("Primary email address set."),
    gettext_noop("Your primary email address must be verified."),
    gettext_noop("Confirmation email sent to %(email)s."),
    gettext_noop("You have confirmed %(email)s."),
    gettext_noop("Removed email address %(email)s."),
    gettext_noop("You cannot remove your primary email address (%(email)s)."),
    gettext_noop("Unable to confirm %(email)s because it is already confirmed by a different account."),
    gettext_noop("A sign-in code has been sent to %(recipient)s."),
    gettext_noop("A verification code has been sent to %(phone)s."),
    gettext_noop("You have verified phone number %(phone)s."),
    gettext_noop("Authenticator app activated."),
    gettext_noop("Authenticator app deactivated."),
    gettext_noop("A new set of recovery codes has been generated."),
    gettext_noop("Save them  in a secure location now — they won't be shown again."),
    gettext_noop("Security key added."),
    gettext_noop("Security key removed."),
    gettext_noop("Signed out of all other sessions."),
    # Django's admin: strings newer than its Chinese catalogue; a time of day
    gettext_noop("Model name"),
    gettext_noop("Add link"),
    gettext_noop("Change or view list link"),
    gettext_noop("p.m."),
    gettext_noop("a.m."),
]


def apply() -> None:
    """Translatable names for what the libraries name in plain English (the admin's app list shows them)."""
    from django.apps import apps

    if apps.is_installed("django_tasks_db"):
        for config in apps.get_app_configs():
            if config.name == "django_tasks_db":
                config.verbose_name = _("Background tasks")
    if apps.is_installed("allauth.usersessions"):
        from allauth.usersessions.models import UserSession

        UserSession._meta.verbose_name = _("user session")
        UserSession._meta.verbose_name_plural = _("user sessions")
    from django.contrib.admin.templatetags import admin_list

    # Lists, read-only fields and display_for_field all import it from here when they render.
    admin_list._boolean_icon = _boolean_icon


def _boolean_icon(field_val):
    """Django's admin yes/no/unknown icon, with its text in the page's language ("Yes", not "True")."""
    from django.templatetags.static import static
    from django.utils.html import format_html
    from django.utils.translation import gettext

    name, text = {
        True: ("yes", gettext("Yes")),
        False: ("no", gettext("No")),
        None: ("unknown", gettext("Unknown")),
    }[field_val]
    return format_html('<img src="{}" alt="{}">', static(f"admin/img/icon-{name}.svg"), text)
