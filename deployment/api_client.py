"""Credentials for calling a deployed stack's API, by its AuthMode (integration tests, demos).

* ``AWS_IAM``: each request is signed with Signature Version 4 for the ``execute-api``
  service (API Gateway developer guide, "Control access to a REST API with IAM
  permissions"; signing: AWS General Reference, "Signature Version 4 signing process"),
  by botocore's own signer (``botocore.auth.SigV4Auth``) with the caller's credentials
  from the default chain. The caller's IAM policies must allow ``execute-api:Invoke``.
* ``COGNITO``: an ID token of the user pool in the ``Authorization`` header (API Gateway
  developer guide, "Integrate a REST API with an Amazon Cognito user pool": the
  authorizer reads the token from the header its identity source names). The token is
  ``SECURE_API_ID_TOKEN``, or is obtained for ``SECURE_API_USERNAME`` /
  ``SECURE_API_PASSWORD`` with ``AdminInitiateAuth`` (ADMIN_USER_PASSWORD_AUTH, allowed on
  the stack's app client; it needs IAM credentials allowed cognito-idp:AdminInitiateAuth).
* ``API_KEY_ONLY``: nothing beyond the API key.

Credentials never appear in a message or a log line of this module.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any, Final

import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import BotoCoreError, ClientError

from sam_project.errors import UserError

SERVICE: Final = "execute-api"
TOKEN_ENV: Final = "SECURE_API_ID_TOKEN"  # noqa: S105 - the variable's name, not a secret
USERNAME_ENV: Final = "SECURE_API_USERNAME"
PASSWORD_ENV: Final = "SECURE_API_PASSWORD"  # noqa: S105 - the variable's name, not a secret
MODES: Final = ("AWS_IAM", "COGNITO", "API_KEY_ONLY")
# A JWT (RFC 7519, compact serialization): three base64url parts joined by dots. Anything
# else in an HTTP header is refused by http.client with the value in its message.
JWT_SHAPE: Final = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")


class SigV4RequestAuth(requests.auth.AuthBase):
    """Signs a ``requests`` request for API Gateway with botocore's SigV4 signer.

    Applied last by ``requests`` (after the body and headers are final), so the signature
    covers the method, URL, query, every header sent and the body.
    """

    def __init__(self, credentials: Credentials | Any, region: str) -> None:
        self.credentials = credentials
        self.region = region

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        body = request.body
        if isinstance(body, str):
            body = body.encode("utf-8")
        aws_request = AWSRequest(
            method=request.method,
            url=request.url,
            data=body or b"",
            headers=dict(request.headers),
        )
        SigV4Auth(self.credentials, SERVICE, self.region).add_auth(aws_request)
        for name in ("Authorization", "X-Amz-Date", "X-Amz-Security-Token"):
            if name in aws_request.headers:
                request.headers[name] = aws_request.headers[name]
        return request


class TokenAuth(requests.auth.AuthBase):
    """A Cognito ID token in the ``Authorization`` header."""

    def __init__(self, token: str) -> None:
        self.token = token

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = self.token
        return request


def cognito_token(
    outputs: Mapping[str, str], env: Mapping[str, str], cognito: Any | None = None
) -> str:
    """The ID token the tester supplied, or one for the tester's user of the stack's pool."""
    token = (env.get(TOKEN_ENV) or "").strip()
    if token:
        if not JWT_SHAPE.fullmatch(token):
            # The value is a credential: its length, never its text.
            raise UserError(
                f"{TOKEN_ENV} is not an ID token ({len(token)} characters); expected a JWT, "
                "three base64url parts joined by dots, as Cognito issues it"
            )
        return token
    username, password = env.get(USERNAME_ENV), env.get(PASSWORD_ENV)
    if not (username and password):
        raise UserError(
            f"the stack's AuthMode is COGNITO: set {TOKEN_ENV} (an ID token of its user "
            f"pool), or {USERNAME_ENV} and {PASSWORD_ENV} (a user of the stack's pool)"
        )
    if "UserPoolId" not in outputs or "UserPoolClientId" not in outputs:
        raise UserError(
            f"the stack trusts a user pool of its own choosing (CognitoUserPoolArn): set "
            f"{TOKEN_ENV} to an ID token of that pool"
        )
    try:
        if cognito is None:
            import boto3  # noqa: PLC0415 - only when a token must be fetched

            cognito = boto3.client("cognito-idp")
        answer = cognito.admin_initiate_auth(
            UserPoolId=outputs["UserPoolId"],
            ClientId=outputs["UserPoolClientId"],
            AuthFlow="ADMIN_USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": username, "PASSWORD": password},
        )
    except ClientError as error:
        # Cognito's own words (e.g. "Incorrect username or password."): they quote neither.
        problem = error.response.get("Error", {})
        raise UserError(
            f"Cognito refused the sign-in of {USERNAME_ENV}/{PASSWORD_ENV}: "
            f"{problem.get('Code') or 'error'}: {problem.get('Message') or 'no message'}"
        ) from None
    except BotoCoreError as error:  # no region, no credentials, no endpoint
        raise UserError(f"cannot ask Cognito for an ID token: {error}") from None
    result = answer.get("AuthenticationResult") or {}
    if "IdToken" not in result:
        raise UserError(
            f"Cognito asked for a challenge ({answer.get('ChallengeName', 'unknown')}) instead "
            "of issuing tokens: finish the user's setup (new password, MFA) first"
        )
    return str(result["IdToken"])


def auth_for_stack(
    outputs: Mapping[str, str],
    *,
    session: Any,
    env: Mapping[str, str] | None = None,
) -> requests.auth.AuthBase | None:
    """How to authenticate to a stack, from its ``AuthMode`` output (a stack deployed
    before AuthMode existed has none: API key only)."""
    mode = outputs.get("AuthMode", "API_KEY_ONLY")
    if mode not in MODES:
        raise UserError(f"the stack's AuthMode output is {mode!r}; expected one of {MODES}")
    if mode == "AWS_IAM":
        credentials = session.get_credentials()
        if credentials is None:
            raise UserError("the stack's AuthMode is AWS_IAM: no AWS credentials to sign with")
        region = session.region_name
        if not region:
            raise UserError("the stack's AuthMode is AWS_IAM: no region to sign for")
        # The session's own (refreshable) credentials: each signature reads them afresh.
        return SigV4RequestAuth(credentials, region)
    if mode == "COGNITO":
        values = os.environ if env is None else env
        # The client only when a token must be fetched: a supplied token needs no region.
        cognito = None if (values.get(TOKEN_ENV) or "").strip() else _cognito_client(session)
        return TokenAuth(cognito_token(outputs, values, cognito))
    return None


def _cognito_client(session: Any) -> Any:
    try:
        return session.client("cognito-idp")
    except BotoCoreError as error:  # e.g. no region configured
        raise UserError(f"cannot ask Cognito for an ID token: {error}") from None
