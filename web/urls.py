"""Pages for people: / (the front door), /dashboard/ (sign-up, session login, insights,
saved dashboards) and /demo/."""

from django.urls import path

from web import insights, site, views

urlpatterns = [
    path("", views.home, name="web-home"),
    path("dashboard/", views.dashboard, name="web-dashboard"),
    path("dashboard/signup/", views.signup, name="web-signup"),
    path(
        "dashboard/login/",
        views.LoginPage.as_view(
            template_name="web/login.html",
            redirect_authenticated_user=True,
            next_page="web-dashboard",
            extra_context={"nav": "login"},
        ),
        name="web-login",
    ),
    path("dashboard/logout/", views.LogoutPage.as_view(next_page="web-login"), name="web-logout"),
    path("dashboard/keys/", views.key_create, name="web-key-create"),
    path("dashboard/keys/<int:pk>/revoke/", views.key_revoke, name="web-key-revoke"),
    path("dashboard/members/", views.member_create, name="web-member-create"),
    path("dashboard/members/<int:pk>/remove/", views.member_delete, name="web-member-remove"),
    path("dashboard/members/<int:pk>/restore/", views.member_restore, name="web-member-restore"),
    path("demo/", views.demo, name="web-demo"),
    path("dashboard/query/", insights.insight_page, {"kind": "query"}, name="web-query"),
    path("dashboard/funnels/", insights.insight_page, {"kind": "funnels"}, name="web-funnels"),
    path(
        "dashboard/retention/", insights.insight_page, {"kind": "retention"}, name="web-retention"
    ),
    path("dashboard/boards/", insights.boards, name="web-boards"),
    path("dashboard/web/", site.site, name="web-site"),
    path("dashboard/boards/<int:pk>/", insights.board, name="web-board"),
]
