"""AWS managed policies as AWS publishes them: name, path, default version, its date, its document.

Data, not code. Each document is the policy's default version as IAM's GetPolicyVersion returns it
(the AWS Managed Policy Reference Guide shows the same document per policy:
https://docs.aws.amazon.com/aws-managed-policy/latest/reference/<Name>.html); paths as in
SAM's bundled map of managed policy ARNs. Read through ``cumulo.iam.managed``.
"""

from __future__ import annotations

from typing import Any

# (name, path, version id, date of that version, document)
MANAGED_POLICIES: tuple[tuple[str, str, str, str, dict[str, Any]], ...] = (
    ("AWSLambdaBasicExecutionRole", "/service-role/", "v1", "2015-04-09T15:03:43Z", {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Action": [
                    "logs:CreateLogGroup",
                    "logs:CreateLogStream",
                    "logs:PutLogEvents"
                ],
                "Resource": "*",
                "Effect": "Allow"
            }
        ]
    }),
    ("AWSLambdaSQSQueueExecutionRole", "/service-role/", "v1", "2018-06-14T21:50:45Z", {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Action": [
                    "sqs:ReceiveMessage",
                    "sqs:DeleteMessage",
                    "sqs:GetQueueAttributes",
                    "logs:CreateLogGroup",
                    "logs:CreateLogStream",
                    "logs:PutLogEvents"
                ],
                "Resource": "*",
                "Effect": "Allow"
            }
        ]
    }),
    ("AWSLambdaKinesisExecutionRole", "/service-role/", "v2", "2018-11-19T20:09:24Z", {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Action": [
                    "kinesis:DescribeStream",
                    "kinesis:DescribeStreamSummary",
                    "kinesis:GetRecords",
                    "kinesis:GetShardIterator",
                    "kinesis:ListShards",
                    "kinesis:ListStreams",
                    "kinesis:SubscribeToShard",
                    "logs:CreateLogGroup",
                    "logs:CreateLogStream",
                    "logs:PutLogEvents"
                ],
                "Resource": "*",
                "Effect": "Allow"
            }
        ]
    }),
    ("AWSLambdaDynamoDBExecutionRole", "/service-role/", "v1", "2015-04-09T15:09:29Z", {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Action": [
                    "dynamodb:DescribeStream",
                    "dynamodb:GetRecords",
                    "dynamodb:GetShardIterator",
                    "dynamodb:ListStreams",
                    "logs:CreateLogGroup",
                    "logs:CreateLogStream",
                    "logs:PutLogEvents"
                ],
                "Resource": "*",
                "Effect": "Allow"
            }
        ]
    }),
    ("AWSLambdaRole", "/service-role/", "v1", "2015-02-06T18:41:28Z", {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Action": [
                    "lambda:InvokeFunction"
                ],
                "Resource": [
                    "*"
                ],
                "Effect": "Allow"
            }
        ]
    }),
    ("AWSLambdaExecute", "/", "v1", "2015-02-06T18:40:46Z", {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Action": [
                    "logs:*"
                ],
                "Resource": "arn:aws:logs:*:*:*",
                "Effect": "Allow"
            },
            {
                "Action": [
                    "s3:GetObject",
                    "s3:PutObject"
                ],
                "Resource": "arn:aws:s3:::*",
                "Effect": "Allow"
            }
        ]
    }),
    ("AWSLambdaVPCAccessExecutionRole", "/service-role/", "v3", "2024-01-05T22:38:26Z", {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Action": [
                    "logs:CreateLogGroup",
                    "logs:CreateLogStream",
                    "logs:PutLogEvents",
                    "ec2:CreateNetworkInterface",
                    "ec2:DescribeNetworkInterfaces",
                    "ec2:DescribeSubnets",
                    "ec2:DeleteNetworkInterface",
                    "ec2:AssignPrivateIpAddresses",
                    "ec2:UnassignPrivateIpAddresses"
                ],
                "Resource": "*",
                "Effect": "Allow",
                "Sid": "AWSLambdaVPCAccessExecutionPermissions"
            }
        ]
    }),
    ("AmazonSQSFullAccess", "/", "v1", "2015-02-06T18:41:07Z", {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Action": [
                    "sqs:*"
                ],
                "Resource": "*",
                "Effect": "Allow"
            }
        ]
    }),
    ("AmazonSQSReadOnlyAccess", "/", "v4", "2024-05-24T18:16:44Z", {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Action": [
                    "sqs:GetQueueAttributes",
                    "sqs:GetQueueUrl",
                    "sqs:ListDeadLetterSourceQueues",
                    "sqs:ListQueues",
                    "sqs:ListMessageMoveTasks",
                    "sqs:ListQueueTags"
                ],
                "Resource": "*",
                "Effect": "Allow",
                "Sid": "AmazonSQSReadOnlyAccess"
            }
        ]
    }),
    ("AmazonDynamoDBFullAccess", "/", "v15", "2021-01-29T17:38:30Z", {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Action": [
                    "dynamodb:*",
                    "dax:*",
                    "application-autoscaling:DeleteScalingPolicy",
                    "application-autoscaling:DeregisterScalableTarget",
                    "application-autoscaling:DescribeScalableTargets",
                    "application-autoscaling:DescribeScalingActivities",
                    "application-autoscaling:DescribeScalingPolicies",
                    "application-autoscaling:PutScalingPolicy",
                    "application-autoscaling:RegisterScalableTarget",
                    "cloudwatch:DeleteAlarms",
                    "cloudwatch:DescribeAlarmHistory",
                    "cloudwatch:DescribeAlarms",
                    "cloudwatch:DescribeAlarmsForMetric",
                    "cloudwatch:GetMetricStatistics",
                    "cloudwatch:ListMetrics",
                    "cloudwatch:PutMetricAlarm",
                    "cloudwatch:GetMetricData",
                    "datapipeline:ActivatePipeline",
                    "datapipeline:CreatePipeline",
                    "datapipeline:DeletePipeline",
                    "datapipeline:DescribeObjects",
                    "datapipeline:DescribePipelines",
                    "datapipeline:GetPipelineDefinition",
                    "datapipeline:ListPipelines",
                    "datapipeline:PutPipelineDefinition",
                    "datapipeline:QueryObjects",
                    "ec2:DescribeVpcs",
                    "ec2:DescribeSubnets",
                    "ec2:DescribeSecurityGroups",
                    "iam:GetRole",
                    "iam:ListRoles",
                    "kms:DescribeKey",
                    "kms:ListAliases",
                    "sns:CreateTopic",
                    "sns:DeleteTopic",
                    "sns:ListSubscriptions",
                    "sns:ListSubscriptionsByTopic",
                    "sns:ListTopics",
                    "sns:Subscribe",
                    "sns:Unsubscribe",
                    "sns:SetTopicAttributes",
                    "lambda:CreateFunction",
                    "lambda:ListFunctions",
                    "lambda:ListEventSourceMappings",
                    "lambda:CreateEventSourceMapping",
                    "lambda:DeleteEventSourceMapping",
                    "lambda:GetFunctionConfiguration",
                    "lambda:DeleteFunction",
                    "resource-groups:ListGroups",
                    "resource-groups:ListGroupResources",
                    "resource-groups:GetGroup",
                    "resource-groups:GetGroupQuery",
                    "resource-groups:DeleteGroup",
                    "resource-groups:CreateGroup",
                    "tag:GetResources",
                    "kinesis:ListStreams",
                    "kinesis:DescribeStream",
                    "kinesis:DescribeStreamSummary"
                ],
                "Resource": "*",
                "Effect": "Allow"
            },
            {
                "Action": "cloudwatch:GetInsightRuleReport",
                "Resource": "arn:aws:cloudwatch:*:*:insight-rule/DynamoDBContributorInsights*",
                "Effect": "Allow"
            },
            {
                "Action": [
                    "iam:PassRole"
                ],
                "Resource": "*",
                "Effect": "Allow",
                "Condition": {
                    "StringLike": {
                        "iam:PassedToService": [
                            "application-autoscaling.amazonaws.com",
                            "application-autoscaling.amazonaws.com.cn",
                            "dax.amazonaws.com"
                        ]
                    }
                }
            },
            {
                "Action": [
                    "iam:CreateServiceLinkedRole"
                ],
                "Resource": "*",
                "Effect": "Allow",
                "Condition": {
                    "StringEquals": {
                        "iam:AWSServiceName": [
                            "replication.dynamodb.amazonaws.com",
                            "dax.amazonaws.com",
                            "dynamodb.application-autoscaling.amazonaws.com",
                            "contributorinsights.dynamodb.amazonaws.com",
                            "kinesisreplication.dynamodb.amazonaws.com"
                        ]
                    }
                }
            }
        ]
    }),
    ("AmazonDynamoDBReadOnlyAccess", "/", "v15", "2024-11-18T17:38:15Z", {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Action": [
                    "application-autoscaling:DescribeScalableTargets",
                    "application-autoscaling:DescribeScalingActivities",
                    "application-autoscaling:DescribeScalingPolicies",
                    "cloudwatch:DescribeAlarmHistory",
                    "cloudwatch:DescribeAlarms",
                    "cloudwatch:DescribeAlarmsForMetric",
                    "cloudwatch:GetMetricStatistics",
                    "cloudwatch:ListMetrics",
                    "cloudwatch:GetMetricData",
                    "datapipeline:DescribeObjects",
                    "datapipeline:DescribePipelines",
                    "datapipeline:GetPipelineDefinition",
                    "datapipeline:ListPipelines",
                    "datapipeline:QueryObjects",
                    "dynamodb:BatchGetItem",
                    "dynamodb:Describe*",
                    "dynamodb:List*",
                    "dynamodb:GetAbacStatus",
                    "dynamodb:GetItem",
                    "dynamodb:GetResourcePolicy",
                    "dynamodb:Query",
                    "dynamodb:Scan",
                    "dynamodb:PartiQLSelect",
                    "dax:Describe*",
                    "dax:List*",
                    "dax:GetItem",
                    "dax:BatchGetItem",
                    "dax:Query",
                    "dax:Scan",
                    "ec2:DescribeVpcs",
                    "ec2:DescribeSubnets",
                    "ec2:DescribeSecurityGroups",
                    "iam:GetRole",
                    "iam:ListRoles",
                    "kms:DescribeKey",
                    "kms:ListAliases",
                    "sns:ListSubscriptionsByTopic",
                    "sns:ListTopics",
                    "lambda:ListFunctions",
                    "lambda:ListEventSourceMappings",
                    "lambda:GetFunctionConfiguration",
                    "resource-groups:ListGroups",
                    "resource-groups:ListGroupResources",
                    "resource-groups:GetGroup",
                    "resource-groups:GetGroupQuery",
                    "tag:GetResources",
                    "kinesis:ListStreams",
                    "kinesis:DescribeStream",
                    "kinesis:DescribeStreamSummary"
                ],
                "Resource": "*",
                "Effect": "Allow",
                "Sid": "GeneralReadOnlyAccess"
            },
            {
                "Action": "cloudwatch:GetInsightRuleReport",
                "Resource": "arn:aws:cloudwatch:*:*:insight-rule/DynamoDBContributorInsights*",
                "Effect": "Allow",
                "Sid": "CCIAccess"
            }
        ]
    }),
    ("AmazonS3FullAccess", "/", "v2", "2021-09-27T20:16:37Z", {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Action": [
                    "s3:*",
                    "s3-object-lambda:*"
                ],
                "Resource": "*",
                "Effect": "Allow"
            }
        ]
    }),
    ("AmazonS3ReadOnlyAccess", "/", "v3", "2023-08-10T21:31:39Z", {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Action": [
                    "s3:Get*",
                    "s3:List*",
                    "s3:Describe*",
                    "s3-object-lambda:Get*",
                    "s3-object-lambda:List*"
                ],
                "Resource": "*",
                "Effect": "Allow"
            }
        ]
    }),
    ("AmazonSNSFullAccess", "/", "v2", "2024-09-24T22:32:05Z", {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Action": "sns:*",
                "Resource": "*",
                "Effect": "Allow",
                "Sid": "SNSFullAccess"
            },
            {
                "Action": [
                    "sms-voice:DescribeVerifiedDestinationNumbers",
                    "sms-voice:CreateVerifiedDestinationNumber",
                    "sms-voice:SendDestinationNumberVerificationCode",
                    "sms-voice:SendTextMessage",
                    "sms-voice:DeleteVerifiedDestinationNumber",
                    "sms-voice:VerifyDestinationNumber",
                    "sms-voice:DescribeAccountAttributes",
                    "sms-voice:DescribeSpendLimits",
                    "sms-voice:DescribePhoneNumbers",
                    "sms-voice:SetTextMessageSpendLimitOverride",
                    "sms-voice:DescribeOptedOutNumbers",
                    "sms-voice:DeleteOptedOutNumber"
                ],
                "Resource": "*",
                "Effect": "Allow",
                "Condition": {
                    "StringEquals": {
                        "aws:CalledViaLast": "sns.amazonaws.com"
                    }
                },
                "Sid": "SMSAccessViaSNS"
            }
        ]
    }),
    ("AWSStepFunctionsFullAccess", "/", "v1", "2017-01-11T21:51:32Z", {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Action": "states:*",
                "Resource": "*",
                "Effect": "Allow"
            }
        ]
    }),
    ("AmazonEventBridgeFullAccess", "/", "v7", "2026-02-12T17:58:25Z", {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Action": [
                    "events:*",
                    "schemas:*",
                    "scheduler:*",
                    "pipes:*"
                ],
                "Resource": "*",
                "Effect": "Allow",
                "Sid": "EventBridgeActions"
            },
            {
                "Action": "iam:CreateServiceLinkedRole",
                "Resource": "arn:aws:iam::*:role/aws-service-role/apidestinations.events.amazonaws.com/AWSServiceRoleForAmazonEventBridgeApiDestinations",
                "Effect": "Allow",
                "Condition": {
                    "StringEquals": {
                        "iam:AWSServiceName": "apidestinations.events.amazonaws.com"
                    }
                },
                "Sid": "IAMCreateServiceLinkedRoleForApiDestinations"
            },
            {
                "Action": "iam:CreateServiceLinkedRole",
                "Resource": "arn:aws:iam::*:role/aws-service-role/schemas.amazonaws.com/AWSServiceRoleForSchemas",
                "Effect": "Allow",
                "Condition": {
                    "StringEquals": {
                        "iam:AWSServiceName": "schemas.amazonaws.com"
                    }
                },
                "Sid": "IAMCreateServiceLinkedRoleForAmazonEventBridgeSchemas"
            },
            {
                "Action": [
                    "secretsmanager:CreateSecret",
                    "secretsmanager:UpdateSecret",
                    "secretsmanager:DeleteSecret",
                    "secretsmanager:GetSecretValue",
                    "secretsmanager:PutSecretValue"
                ],
                "Resource": "arn:aws:secretsmanager:*:*:secret:events!*",
                "Effect": "Allow",
                "Sid": "SecretsManagerAccessForApiDestinations"
            },
            {
                "Action": "iam:PassRole",
                "Resource": "arn:aws:iam::*:role/*",
                "Effect": "Allow",
                "Condition": {
                    "StringLike": {
                        "iam:PassedToService": "events.amazonaws.com"
                    }
                },
                "Sid": "IAMPassRoleAccessForEventBridge"
            },
            {
                "Action": "iam:PassRole",
                "Resource": "arn:aws:iam::*:role/*",
                "Effect": "Allow",
                "Condition": {
                    "StringLike": {
                        "iam:PassedToService": "scheduler.amazonaws.com"
                    }
                },
                "Sid": "IAMPassRoleAccessForScheduler"
            },
            {
                "Action": "iam:PassRole",
                "Resource": "arn:aws:iam::*:role/*",
                "Effect": "Allow",
                "Condition": {
                    "StringLike": {
                        "iam:PassedToService": "pipes.amazonaws.com"
                    }
                },
                "Sid": "IAMPassRoleAccessForPipes"
            }
        ]
    }),
    ("AmazonKinesisFullAccess", "/", "v1", "2015-02-06T18:40:29Z", {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Action": "kinesis:*",
                "Resource": "*",
                "Effect": "Allow"
            }
        ]
    }),
    ("SecretsManagerReadWrite", "/", "v5", "2024-02-22T18:12:06Z", {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Action": [
                    "secretsmanager:*",
                    "cloudformation:CreateChangeSet",
                    "cloudformation:DescribeChangeSet",
                    "cloudformation:DescribeStackResource",
                    "cloudformation:DescribeStacks",
                    "cloudformation:ExecuteChangeSet",
                    "docdb-elastic:GetCluster",
                    "docdb-elastic:ListClusters",
                    "ec2:DescribeSecurityGroups",
                    "ec2:DescribeSubnets",
                    "ec2:DescribeVpcs",
                    "kms:DescribeKey",
                    "kms:ListAliases",
                    "kms:ListKeys",
                    "lambda:ListFunctions",
                    "rds:DescribeDBClusters",
                    "rds:DescribeDBInstances",
                    "redshift:DescribeClusters",
                    "redshift-serverless:ListWorkgroups",
                    "redshift-serverless:GetNamespace",
                    "tag:GetResources"
                ],
                "Resource": "*",
                "Effect": "Allow",
                "Sid": "BasePermissions"
            },
            {
                "Action": [
                    "lambda:AddPermission",
                    "lambda:CreateFunction",
                    "lambda:GetFunction",
                    "lambda:InvokeFunction",
                    "lambda:UpdateFunctionConfiguration"
                ],
                "Resource": "arn:aws:lambda:*:*:function:SecretsManager*",
                "Effect": "Allow",
                "Sid": "LambdaPermissions"
            },
            {
                "Action": [
                    "serverlessrepo:CreateCloudFormationChangeSet",
                    "serverlessrepo:GetApplication"
                ],
                "Resource": "arn:aws:serverlessrepo:*:*:applications/SecretsManager*",
                "Effect": "Allow",
                "Sid": "SARPermissions"
            },
            {
                "Action": [
                    "s3:GetObject"
                ],
                "Resource": [
                    "arn:aws:s3:::awsserverlessrepo-changesets*",
                    "arn:aws:s3:::secrets-manager-rotation-apps-*/*"
                ],
                "Effect": "Allow",
                "Sid": "S3Permissions"
            }
        ]
    }),
    ("CloudWatchLogsFullAccess", "/", "v8", "2026-02-12T18:00:33Z", {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Action": [
                    "logs:*",
                    "cloudwatch:GenerateQuery",
                    "cloudwatch:GenerateQueryResultsSummary",
                    "observabilityadmin:GetS3TableIntegration",
                    "observabilityadmin:ListS3TableIntegrations",
                    "observabilityadmin:ListTelemetryPipelines"
                ],
                "Resource": "*",
                "Effect": "Allow",
                "Sid": "CloudWatchLogsFullAccess"
            }
        ]
    }),
    ("AWSXrayWriteOnlyAccess", "/", "v2", "2018-08-28T23:03:04Z", {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Action": [
                    "xray:PutTraceSegments",
                    "xray:PutTelemetryRecords",
                    "xray:GetSamplingRules",
                    "xray:GetSamplingTargets",
                    "xray:GetSamplingStatisticSummaries"
                ],
                "Resource": [
                    "*"
                ],
                "Effect": "Allow"
            }
        ]
    }),
    ("AdministratorAccess", "/", "v1", "2015-02-06T18:39:46Z", {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "*",
                "Resource": "*"
            }
        ]
    }),
    # v4 (2019): the reference guide's default is now v7 (2026-02-12), which adds read actions
    # (cloudformation:BatchDescribe* among them) of operations Cumulo does not serve.
    ("AWSCloudFormationReadOnlyAccess", "/", "v4", "2019-11-13T17:40:00Z", {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": [
                    "cloudformation:Describe*",
                    "cloudformation:EstimateTemplateCost",
                    "cloudformation:Get*",
                    "cloudformation:List*",
                    "cloudformation:ValidateTemplate",
                    "cloudformation:Detect*"
                ],
                "Resource": "*"
            }
        ]
    }),
)
