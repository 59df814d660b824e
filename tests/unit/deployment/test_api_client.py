"""deployment.api_client: requests signed for API Gateway exactly as botocore signs them,
and the signature checked by an independent computation of Signature Version 4 (AWS
General Reference, "Create a signed AWS API request"), with fixed credentials and time.
No network: requests are prepared, never sent.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import re
from urllib.parse import parse_qsl, quote, urlsplit

import boto3
import botocore.auth
import pytest
import requests
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from moto import mock_aws

from deployment.api_client import (
    PASSWORD_ENV,
    TOKEN_ENV,
    USERNAME_ENV,
    SigV4RequestAuth,
    TokenAuth,
    auth_for_stack,
    cognito_token,
)
from sam_project.errors import UserError

ACCESS_KEY = "AKIDEXAMPLE"
SECRET_KEY = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
NOW = datetime.datetime(2015, 8, 30, 12, 36, 0, tzinfo=datetime.UTC)
URL = "https://abcde12345.execute-api.eu-west-1.amazonaws.com/dev/echo?b=2&a=1&a=0"


@pytest.fixture(autouse=True)
def fixed_time(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda: NOW)


def prepared(
    auth: requests.auth.AuthBase, body: bytes = b'{"message": "hi"}'
) -> requests.PreparedRequest:
    request = requests.Request(
        "POST",
        URL,
        data=body,
        headers={"Content-Type": "application/json", "x-api-key": "k"},
        auth=auth,
    )
    with requests.Session() as session:
        return session.prepare_request(request)


def independent_signature(request: requests.PreparedRequest, secret: str, region: str) -> str:
    """SigV4 computed from the request as it would be sent, without botocore."""
    authorization = request.headers["Authorization"]
    signed = re.search(r"SignedHeaders=([^,]+)", authorization)
    assert signed is not None
    names = signed.group(1).split(";")
    parts = urlsplit(request.url or "")
    headers = {name.lower(): " ".join(value.split()) for name, value in request.headers.items()}
    headers["host"] = parts.netloc
    query = "&".join(
        f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}"
        for k, v in sorted(parse_qsl(parts.query, keep_blank_values=True))
    )
    body = request.body if isinstance(request.body, bytes) else (request.body or "").encode()
    canonical = "\n".join(
        [
            request.method or "",
            quote(parts.path, safe="/-_.~"),
            query,
            "".join(f"{name}:{headers[name]}\n" for name in names),
            ";".join(names),
            hashlib.sha256(body).hexdigest(),
        ]
    )
    stamp = request.headers["X-Amz-Date"]
    scope = f"{stamp[:8]}/{region}/execute-api/aws4_request"
    to_sign = "\n".join(
        ["AWS4-HMAC-SHA256", stamp, scope, hashlib.sha256(canonical.encode()).hexdigest()]
    )
    key = ("AWS4" + secret).encode()
    for part in (stamp[:8], region, "execute-api", "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()


def test_the_helper_signs_as_botocore_does() -> None:
    credentials = Credentials(ACCESS_KEY, SECRET_KEY)
    request = prepared(SigV4RequestAuth(credentials, "eu-west-1"))
    direct = AWSRequest(
        method="POST",
        url=URL,
        data=b'{"message": "hi"}',
        headers={
            k: v for k, v in request.headers.items() if k not in ("Authorization", "X-Amz-Date")
        },
    )
    botocore.auth.SigV4Auth(credentials, "execute-api", "eu-west-1").add_auth(direct)
    assert request.headers["Authorization"] == direct.headers["Authorization"]
    assert request.headers["X-Amz-Date"] == "20150830T123600Z"
    assert (
        f"Credential={ACCESS_KEY}/20150830/eu-west-1/execute-api/aws4_request"
        in request.headers["Authorization"]
    )
    assert "X-Amz-Security-Token" not in request.headers


def test_the_signature_covers_what_is_sent() -> None:
    request = prepared(SigV4RequestAuth(Credentials(ACCESS_KEY, SECRET_KEY), "eu-west-1"))
    signature = request.headers["Authorization"].rsplit("Signature=", 1)[1]
    assert independent_signature(request, SECRET_KEY, "eu-west-1") == signature
    signed = request.headers["Authorization"].split("SignedHeaders=", 1)[1]
    assert "x-api-key" in signed and "content-type" in signed and "host" in signed
    # The body, the region and the key are all in it.
    tampered = request.copy()
    tampered.body = b'{"message": "HI"}'
    assert independent_signature(tampered, SECRET_KEY, "eu-west-1") != signature
    assert independent_signature(request, SECRET_KEY, "us-east-1") != signature
    assert independent_signature(request, SECRET_KEY + "x", "eu-west-1") != signature


def test_temporary_credentials_send_their_session_token() -> None:
    request = prepared(SigV4RequestAuth(Credentials(ACCESS_KEY, SECRET_KEY, "TOKEN"), "eu-west-1"))
    assert request.headers["X-Amz-Security-Token"] == "TOKEN"
    assert "x-amz-security-token" in request.headers["Authorization"]


def _session() -> boto3.session.Session:
    return boto3.session.Session(
        aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY, region_name="eu-west-1"
    )


def test_the_stack_output_decides_how_to_authenticate() -> None:
    iam = auth_for_stack({"AuthMode": "AWS_IAM"}, session=_session(), env={})
    assert isinstance(iam, SigV4RequestAuth) and iam.region == "eu-west-1"
    assert "Signature=" in prepared(iam).headers["Authorization"]
    cognito = auth_for_stack({"AuthMode": "COGNITO"}, session=_session(), env={TOKEN_ENV: JWT})
    assert isinstance(cognito, TokenAuth)
    assert prepared(cognito).headers["Authorization"] == JWT
    assert auth_for_stack({"AuthMode": "API_KEY_ONLY"}, session=_session(), env={}) is None
    assert auth_for_stack({}, session=_session(), env={}) is None  # a stack from before
    with pytest.raises(UserError, match="'BASIC'"):
        auth_for_stack({"AuthMode": "BASIC"}, session=_session(), env={})


JWT = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ0ZXN0ZXIifQ.c2lnbmF0dXJl"


@pytest.mark.parametrize("pasted", [f"{JWT}\n", f"  {JWT}\r\n", f"\t{JWT} "])
def test_a_token_pasted_with_surrounding_whitespace_is_trimmed(pasted: str) -> None:
    assert cognito_token({}, {TOKEN_ENV: pasted}) == JWT


@pytest.mark.parametrize(
    "token", [f"Bearer {JWT}", f"{JWT}\nX-Injected: 1", "secret-not-a-jwt", f"{JWT}é"]
)
def test_a_token_that_is_no_jwt_is_refused_without_its_value(token: str) -> None:
    # Probe: such a value reached the Authorization header, and http.client refused it
    # with "Invalid header value b'<the token>'": the credential in a traceback.
    with pytest.raises(UserError) as refused:
        auth_for_stack({"AuthMode": "COGNITO"}, session=_session(), env={TOKEN_ENV: token})
    message = str(refused.value)
    assert TOKEN_ENV in message and "\n" not in message
    assert JWT not in message and "secret-not-a-jwt" not in message


def test_cognito_refusing_the_sign_in_is_one_line_without_the_password() -> None:
    """Against moto's Cognito: a wrong password is Cognito's NotAuthorizedException, and a
    user of another pool is refused the same way; neither message quotes the password."""
    with mock_aws():
        cognito = boto3.client(
            "cognito-idp",
            region_name="eu-west-1",
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
        )
        pool_id = cognito.create_user_pool(PoolName="users")["UserPool"]["Id"]
        client = cognito.create_user_pool_client(
            UserPoolId=pool_id,
            ClientName="api-client",
            ExplicitAuthFlows=["ALLOW_ADMIN_USER_PASSWORD_AUTH"],
        )["UserPoolClient"]["ClientId"]
        cognito.admin_create_user(UserPoolId=pool_id, Username="tester")
        cognito.admin_set_user_password(
            UserPoolId=pool_id, Username="tester", Password="Right-Pass-1!", Permanent=True
        )
        outputs = {"UserPoolId": pool_id, "UserPoolClientId": client}
        for user, password in (("tester", "Wrong-Pass-9!"), ("nobody", "Other-Pass-8!")):
            env = {USERNAME_ENV: user, PASSWORD_ENV: password}
            with pytest.raises(UserError) as refused:
                cognito_token(outputs, env, cognito)
            message = str(refused.value)
            assert "\n" not in message and password not in message
            assert "Cognito refused the sign-in" in message


def test_cognito_without_a_region_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    # Probe: the client was created even when a token was given, and without a region
    # botocore's NoRegionError escaped as a traceback.
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    session = boto3.session.Session(aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY)
    assert session.region_name is None
    token = auth_for_stack({"AuthMode": "COGNITO"}, session=session, env={TOKEN_ENV: JWT})
    assert isinstance(token, TokenAuth)
    env = {USERNAME_ENV: "tester", PASSWORD_ENV: "Some-Pass-1!"}
    with pytest.raises(UserError, match="cannot ask Cognito for an ID token") as refused:
        auth_for_stack(
            {"AuthMode": "COGNITO", "UserPoolId": "p", "UserPoolClientId": "c"},
            session=session,
            env=env,
        )
    assert "Some-Pass-1!" not in str(refused.value)


def test_cognito_without_credentials_says_what_to_set() -> None:
    with pytest.raises(UserError) as refused:
        cognito_token({"UserPoolId": "p", "UserPoolClientId": "c"}, {})
    message = str(refused.value)
    assert TOKEN_ENV in message and USERNAME_ENV in message and PASSWORD_ENV in message
    with pytest.raises(UserError, match="CognitoUserPoolArn"):
        cognito_token({}, {USERNAME_ENV: "u", PASSWORD_ENV: "secret-value"})


def test_cognito_user_credentials_become_an_id_token_and_never_a_message() -> None:
    """Against moto's Cognito: a new user is challenged (set a password first), then the
    admin flow the stack's app client allows gives the ID token the authorizer reads."""
    with mock_aws():
        cognito = boto3.client(
            "cognito-idp",
            region_name="eu-west-1",
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
        )
        pool = cognito.create_user_pool(PoolName="users", UsernameAttributes=["email"])
        pool_id = pool["UserPool"]["Id"]
        client = cognito.create_user_pool_client(
            UserPoolId=pool_id,
            ClientName="api-client",
            ExplicitAuthFlows=["ALLOW_ADMIN_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
        )["UserPoolClient"]["ClientId"]
        user = "tester@example.com"
        cognito.admin_create_user(
            UserPoolId=pool_id, Username=user, TemporaryPassword="Temp-Pass-1!"
        )
        outputs = {"UserPoolId": pool_id, "UserPoolClientId": client}
        env = {USERNAME_ENV: user, PASSWORD_ENV: "Temp-Pass-1!"}
        with pytest.raises(UserError, match="NEW_PASSWORD_REQUIRED") as refused:
            cognito_token(outputs, env, cognito)
        assert "Temp-Pass-1!" not in str(refused.value)
        cognito.admin_set_user_password(
            UserPoolId=pool_id, Username=user, Password="Final-Pass-2!", Permanent=True
        )
        token = cognito_token(outputs, {**env, PASSWORD_ENV: "Final-Pass-2!"}, cognito)
        assert token.count(".") == 2  # a JWT
