"""AWS Lambda's quotas, as AWS documents them. One place, so every check agrees."""

MEMORY_MIN_MB = 128
MEMORY_MAX_MB = 10_240
MEMORY_DEFAULT_MB = 128
TIMEOUT_MIN_S = 1
TIMEOUT_MAX_S = 900
TIMEOUT_DEFAULT_S = 3
EPHEMERAL_MIN_MB = 512
EPHEMERAL_MAX_MB = 10_240
EPHEMERAL_DEFAULT_MB = 512
ENV_VARS_MAX_BYTES = 4 * 1024
DESCRIPTION_MAX = 256
FUNCTION_NAME_MAX = 64
HANDLER_MAX = 128

SYNC_PAYLOAD_MAX = 6 * 1024 * 1024          # request and response of a synchronous invoke
ASYNC_PAYLOAD_MAX = 256 * 1024
RESPONSE_LIMIT_MESSAGE_BYTES = 6_291_556    # the figure AWS prints in its error message
LOG_TAIL_BYTES = 4 * 1024

ZIP_MAX_BYTES = 50 * 1024 * 1024            # direct upload
UNZIPPED_MAX_BYTES = 250 * 1024 * 1024      # code + layers
ZIP_MAX_ENTRIES = 20_000
ZIP_MAX_RATIO = 200                          # ours: an entry over 1 MiB expanding more is a zip bomb
LAYERS_MAX = 5                               # layers per function

ACCOUNT_CONCURRENCY_DEFAULT = 1000
UNRESERVED_MIN_DEFAULT = 100

NOFILE_LIMIT = 1024                          # file descriptors per environment, as on AWS
NPROC_LIMIT = 1024                           # processes/threads per environment, as on AWS
