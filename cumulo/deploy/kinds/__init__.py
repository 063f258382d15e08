"""The kinds of resource a template can declare or SAM can make implicitly, one module each behind one
protocol (``base.ResourceKind``), and the registry the template engine reads them from.

A new ``AWS::…`` type is a new module here (a ``Kind`` subclass: its types, names and attributes, reading,
plan, apply, delete) and one line below. The order of the lines is the order in which templates' types
are listed as supported, named and read; deploys order kinds by their ``after``.
"""

from cumulo.deploy.kinds import (
    alarm, api, api_destination, kms_key, bucket, bucket_policy, bus, connector, deployment_config, function, function_url, inert, invoke_config, layer, log_group,
    managed_policy,
    mapping, parameter, permission, queue, queue_policy, role, role_policy, rotation_schedule, secret_policy, rule, schedule, secret, state_machine,
    stream, table, topic, topic_policy, usage_plan,
)
from cumulo.deploy.kinds.base import Registry, ResourceKind

__all__ = ["KINDS", "ResourceKind"]

KINDS = Registry([
    function.Function(),                    # AWS::Serverless::Function
    api.HttpApi(),                          # AWS::Serverless::HttpApi, and the APIs of Api/HttpApi events
    usage_plan.UsagePlans(),                # AWS::ApiGateway::ApiKey, UsagePlan, UsagePlanKey (after the APIs)
    queue.Queue(),                          # AWS::SQS::Queue
    topic.Topic(),                          # AWS::SNS::Topic
    topic.Subscription(),                   # AWS::SNS::Subscription, topics' Subscription lists, SNS events
    bucket.Bucket(),                        # AWS::S3::Bucket, and functions' S3 events
    kms_key.KmsKey(),                       # AWS::KMS::Key (customer managed keys of Cumulo's KMS)
    kms_key.KmsAlias(),                     # AWS::KMS::Alias
    parameter.Parameter(),                  # AWS::SSM::Parameter
    secret.Secret(),                        # AWS::SecretsManager::Secret (GenerateSecretString)
    rotation_schedule.RotationSchedule(),   # AWS::SecretsManager::RotationSchedule (a secret's rotation)
    secret_policy.SecretPolicy(),           # AWS::SecretsManager::ResourcePolicy (a secret's resource policy)
    stream.Stream(),                        # AWS::Kinesis::Stream
    table.Table(),                          # AWS::DynamoDB::Table, AWS::Serverless::SimpleTable
    bus.EventBus(),                         # AWS::Events::EventBus
    api_destination.Connection(),           # AWS::Events::Connection
    api_destination.ApiDestination(),       # AWS::Events::ApiDestination
    rule.Rule(),                            # AWS::Events::Rule, and the rules of events
    state_machine.StateMachine(),           # AWS::Serverless::StateMachine, AWS::StepFunctions::StateMachine
    layer.Layer(),                          # AWS::Serverless::LayerVersion
    mapping.EventSourceMapping(),           # functions' SQS, Kinesis and DynamoDB events
    schedule.Schedule(),                    # functions' Schedule and ScheduleV2 events
    invoke_config.EventInvokeConfig(),      # functions' EventInvokeConfig
    log_group.LogGroup(),                   # AWS::Logs::LogGroup (retention of a function's or API's log)
    alarm.Alarm(),                          # AWS::CloudWatch::Alarm (metrics/alarms.py)
    deployment_config.DeploymentConfigKind(),   # AWS::CodeDeploy::DeploymentConfig (DeploymentPreference's Type)
    permission.Permission(),                # AWS::Lambda::Permission (a statement of a function's policy)
    function_url.FunctionUrl(),             # AWS::Lambda::Url, and functions' FunctionUrlConfig
    queue_policy.QueuePolicy(),             # AWS::SQS::QueuePolicy (queues' resource policies)
    bucket_policy.BucketPolicy(),           # AWS::S3::BucketPolicy (buckets' policies)
    topic_policy.TopicPolicy(),             # AWS::SNS::TopicPolicy (topics' access policies)
    role.Role(),                            # AWS::IAM::Role, and the roles SAM makes for functions and state machines
    managed_policy.ManagedPolicy(),         # AWS::IAM::ManagedPolicy
    role_policy.RolePolicy(),               # AWS::IAM::Policy, AWS::IAM::RolePolicy, a managed policy's Roles
    connector.Connector(),                  # AWS::Serverless::Connector (the policies SAM generates)
    inert.Inert(),                          # types with no local meaning, accepted with a warning (alarms, keys...)
])
