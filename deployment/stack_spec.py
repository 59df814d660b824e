"""What the deployed stack must look like: the logical ids the checks read and
the values they expect (template.yaml's, as the SAM translator names them).
"""

from __future__ import annotations

# Logical ids of the resources the checks read: template.yaml's, plus ApiApiKey
# as the SAM translator names the Api resource's key.
KEY_ID = "LogsKey"
FUNCTION_ID = "ApiFunction"
API_ID = "Api"
API_KEY_ID = "ApiApiKey"
LOG_GROUPS = {
    "function": "FunctionLogGroup",
    "access": "AccessLogGroup",
    "execution": "ExecutionLogGroup",
}
EXPECTED_RUNTIME = "python3.13"
EXPECTED_ARCHITECTURES = ["arm64"]
EXPECTED_LOG_FORMAT = "JSON"
EXPECTED_KEY_SPEC = {"KeySpec": "SYMMETRIC_DEFAULT", "KeyUsage": "ENCRYPT_DECRYPT"}
EXPECTED_ENDPOINT_TYPES = ["REGIONAL"]
# Service-level X-Ray tracing (the function bundles no tracing SDK): Lambda records the
# function's segment, the stage records API Gateway's, so a trace shows API Gateway -> Lambda.
EXPECTED_TRACING_MODE = "Active"
REQUIRED_OUTPUTS = (
    "ApiUrl",
    "KmsKeyId",
    "KmsKeyArn",
    "LogGroupName",
    "AccessLogGroupName",
    "FunctionName",
    "ApiKeyId",
)
