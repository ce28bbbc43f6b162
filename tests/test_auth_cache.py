"""Access tokens without a database query per request, yet refused at once after a logout.

Each process keeps its answers about ended sessions for one shared generation (the site's
cache, shared by all processes); logout and ``Account.end_sessions`` change the generation.
The two-process behaviour is proven in ``test_auth_sessions.py``; here the query counts.
"""

from __future__ import annotations

import pytest
from django.core.cache import cache as shared_cache
from django.utils import timezone
from rest_framework_simplejwt.tokens import AccessToken

from accounts_app import cache
from accounts_app.authentication import session_of, user_for_access_token
from accounts_app.models import Account, EndedSession
from accounts_app.testing import make_user
from accounts_app.tokens import end_session, issue_pair

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def access():
    cache.sessions.__init__()  # a fresh process
    user = make_user("carol", "engineer")
    pair = issue_pair(user)
    return str(pair.access_token), str(pair)


def test_a_known_session_costs_no_query(access, django_assert_num_queries):
    raw, _ = access
    assert user_for_access_token(raw)[0].username == "carol"
    with django_assert_num_queries(0):
        assert user_for_access_token(raw)[0].username == "carol"


def test_logout_refuses_the_token_at_the_next_request(access, django_assert_num_queries):
    raw, refresh = access
    assert user_for_access_token(raw)[0] is not None
    other = str(issue_pair(Account.objects.get(user__username="carol").user).access_token)
    assert user_for_access_token(other)[0] is not None
    end_session(raw_refresh=refresh)
    assert user_for_access_token(raw) == (None, None)
    assert user_for_access_token(other)[0].username == "carol"  # another session lives on
    with django_assert_num_queries(0):
        assert user_for_access_token(raw) == (None, None)


def test_end_sessions_refuses_cached_users_tokens_at_once(access):
    raw, _ = access
    assert user_for_access_token(raw)[0] is not None  # the user is now cached for 5 s
    Account.objects.get(user__username="carol").end_sessions("test")
    assert user_for_access_token(raw) == (None, None)


def test_without_a_shared_generation_the_database_is_asked(access):
    raw, _ = access
    assert user_for_access_token(raw)[0] is not None
    shared_cache.clear()  # an emptied cache: the ended row below came without a change
    sid = session_of(AccessToken(raw))
    EndedSession.objects.create(sid=sid, expires_at=timezone.now())
    assert user_for_access_token(raw) == (None, None)


def test_an_invalid_token_changes_nothing(access):
    raw, _ = access
    assert user_for_access_token(raw)[0] is not None
    generation = shared_cache.get(cache.GENERATION_KEY)
    assert user_for_access_token(raw[:-4] + "AAAA") == (None, None)
    assert user_for_access_token("not a token") == (None, None)
    assert shared_cache.get(cache.GENERATION_KEY) == generation
    assert not EndedSession.objects.exists()


def test_an_unreachable_shared_cache_means_asking_the_database(access, monkeypatch):
    raw, refresh = access
    assert user_for_access_token(raw)[0] is not None

    class Down:
        def __getattr__(self, name):
            def fail(*args, **kwargs):
                raise ConnectionError("shared cache down")

            return fail

    monkeypatch.setattr(cache, "_shared", Down)
    end_session(raw_refresh=refresh)  # the change cannot be announced: logged, not raised
    assert user_for_access_token(raw) == (None, None)  # read from the database instead
