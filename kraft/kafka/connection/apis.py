"""The APIs this listener serves, at which versions, and by which handler.

Only what works is advertised: clients pick the highest version both sides know
from the ApiVersions answer, so every range here is a promise.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from kraft.broker.services import BrokerServices
from kraft.kafka.handlers import (acl_api, config_api, consumer_group_api, election_api, fetch_api, group_admin_api,
                                  group_api, log_admin_api, metadata_api, offsets_api, produce_api, producer_id_api,
                                  quorum_api, quota_api, reassignment_api, sasl_api, share_admin_api, share_api,
                                  share_state_api, scram_api, telemetry_api, topic_admin_api, topic_partitions_api,
                                  txn_api, txn_marker_api)
from kraft.kafka.connection.request_context import RequestContext
from kraft.kafka.wire.splice import Spliced

# (services, the request's context, the decoded kio request) -> the answer's fields, file
# slices to splice (Fetch), or None for no response at all (acks=0)
Handler = Callable[[BrokerServices, RequestContext, Any], Awaitable[dict[str, Any] | Spliced | None]]

API_VERSIONS = 18
# the APIs whose handlers let the connection's next request start before answering
# (RequestContext.let_next_request_start): served on a task of their own, the rest inline
PIPELINED = frozenset({0})  # Produce


@dataclass(frozen=True)
class Api:
    key: int
    min_version: int
    max_version: int
    handle: Handler | None  # None: answered by the dispatcher


SERVED: dict[int, Api] = {api.key: api for api in (
    Api(0, 3, 13, produce_api.handle),                      # Produce (v10: leader hints; v12: transactions v2; v13: topic ids)
    Api(1, 4, 18, fetch_api.handle),                        # Fetch (v7: sessions; v12: flexible; v13: topic ids; v18: replica HW)
    Api(2, 1, 11, offsets_api.list_offsets),                # ListOffsets (v7: max timestamp; v10: timeout)
    Api(3, 1, 13, metadata_api.handle),                     # Metadata (v13: a top-level error code)
    Api(8, 2, 10, group_api.offset_commit),                 # OffsetCommit (v9: member epochs; v10: topic ids)
    Api(9, 1, 10, group_api.offset_fetch),                  # OffsetFetch (v8: groups; v9: epochs; v10: topic ids)
    Api(10, 0, 6, group_api.find_coordinator),              # FindCoordinator (v4: batched; v6: share state keys)
    Api(11, 0, 9, group_api.join_group),                    # JoinGroup (v8: reason; v9: skip_assignment)
    Api(12, 0, 4, group_api.heartbeat),                     # Heartbeat
    Api(13, 0, 5, group_api.leave_group),                   # LeaveGroup (v5: reason per member)
    Api(14, 0, 5, group_api.sync_group),                    # SyncGroup
    Api(15, 0, 6, group_admin_api.describe_groups),         # DescribeGroups (v6: GROUP_ID_NOT_FOUND)
    Api(16, 0, 5, group_admin_api.list_groups),             # ListGroups (v5: group types)
    Api(17, 0, 1, sasl_api.handshake),                      # SaslHandshake (v0 listed, refused: see sasl_api)
    Api(18, 0, 4, None),                                    # ApiVersions
    Api(19, 2, 7, topic_admin_api.create_topics),           # CreateTopics
    Api(20, 1, 6, topic_admin_api.delete_topics),           # DeleteTopics
    Api(21, 0, 2, log_admin_api.delete_records),            # DeleteRecords
    Api(22, 0, 5, producer_id_api.handle),                  # InitProducerId (v6: KIP-939's 2PC, not served)
    Api(23, 2, 4, offsets_api.offset_for_leader_epoch),     # OffsetForLeaderEpoch
    Api(24, 0, 5, txn_api.add_partitions),                  # AddPartitionsToTxn (v4+: brokers' batched form)
    Api(25, 0, 4, txn_api.add_offsets),                     # AddOffsetsToTxn
    Api(26, 0, 5, txn_api.end_txn),                         # EndTxn (v5: transactions v2, an epoch bump per end)
    Api(27, 1, 2, txn_marker_api.write_txn_markers),        # WriteTxnMarkers (brokers: CLUSTER_ACTION)
    Api(28, 0, 5, txn_api.txn_offset_commit),               # TxnOffsetCommit (v3: KIP-447; v5: transactions v2)
    Api(29, 1, 3, acl_api.describe_acls),                   # DescribeAcls
    Api(30, 1, 3, acl_api.create_acls),                     # CreateAcls
    Api(31, 1, 3, acl_api.delete_acls),                     # DeleteAcls
    Api(32, 1, 4, config_api.describe_configs),             # DescribeConfigs
    Api(33, 0, 2, config_api.alter_configs),                # AlterConfigs (the whole-set form)
    Api(34, 1, 2, log_admin_api.alter_replica_log_dirs),    # AlterReplicaLogDirs (one log dir: no-op moves)
    Api(35, 1, 5, log_admin_api.describe_log_dirs),         # DescribeLogDirs (v4: volume bytes; v5: cordoned)
    Api(36, 0, 2, sasl_api.authenticate),                   # SaslAuthenticate
    Api(37, 0, 3, topic_admin_api.create_partitions),       # CreatePartitions
    Api(42, 0, 2, group_admin_api.delete_groups),           # DeleteGroups
    Api(43, 0, 2, election_api.elect_leaders),              # ElectLeaders (preferred, unclean)
    Api(44, 0, 1, config_api.incremental_alter_configs),    # IncrementalAlterConfigs
    Api(45, 0, 1, reassignment_api.alter),                  # AlterPartitionReassignments (v1: RF change flag)
    Api(46, 0, 0, reassignment_api.list_reassignments),     # ListPartitionReassignments
    Api(47, 0, 0, group_admin_api.offset_delete),           # OffsetDelete
    Api(48, 0, 1, quota_api.describe),                      # DescribeClientQuotas
    Api(49, 0, 1, quota_api.alter),                         # AlterClientQuotas
    Api(50, 0, 0, scram_api.describe),                      # DescribeUserScramCredentials
    Api(51, 0, 0, scram_api.alter),                         # AlterUserScramCredentials
    Api(55, 0, 2, quorum_api.describe_quorum),              # DescribeQuorum (v1: timestamps; v2: nodes)
    Api(60, 0, 2, metadata_api.describe_cluster),           # DescribeCluster (v2: fenced brokers)
    Api(61, 0, 0, txn_api.describe_producers),              # DescribeProducers
    Api(65, 0, 0, txn_api.describe_transactions),           # DescribeTransactions
    Api(66, 0, 2, txn_api.list_transactions),               # ListTransactions (v1: duration; v2: id pattern)
    Api(68, 0, 1, consumer_group_api.heartbeat),            # ConsumerGroupHeartbeat (KIP-848)
    Api(69, 0, 1, consumer_group_api.describe),             # ConsumerGroupDescribe (KIP-848)
    Api(71, 0, 0, telemetry_api.get_subscriptions),         # GetTelemetrySubscriptions (an empty one)
    Api(75, 0, 0, topic_partitions_api.describe_topic_partitions),  # DescribeTopicPartitions
    Api(76, 1, 1, share_api.heartbeat),                     # ShareGroupHeartbeat (KIP-932)
    Api(77, 1, 1, share_admin_api.describe),                # ShareGroupDescribe
    Api(78, 1, 2, share_api.share_fetch),                   # ShareFetch (v2: RENEW, acquire mode)
    Api(79, 1, 2, share_api.share_acknowledge),             # ShareAcknowledge (v2: RENEW)
    Api(83, 0, 0, share_state_api.initialize),              # InitializeShareGroupState (brokers: CLUSTER_ACTION)
    Api(84, 0, 0, share_state_api.read),                    # ReadShareGroupState
    Api(85, 0, 1, share_state_api.write),                   # WriteShareGroupState
    Api(86, 0, 0, share_state_api.delete),                  # DeleteShareGroupState
    Api(87, 0, 1, share_state_api.read_summary),            # ReadShareGroupStateSummary (v1: completed count)
    Api(90, 0, 1, share_admin_api.describe_offsets),        # DescribeShareGroupOffsets (v1: KIP-1226 lag)
    Api(91, 0, 0, share_admin_api.alter_offsets),           # AlterShareGroupOffsets
    Api(92, 0, 0, share_admin_api.delete_offsets),          # DeleteShareGroupOffsets
    Api(80, 0, 1, quorum_api.add_raft_voter),               # AddRaftVoter (KIP-853; v1: ack_when_committed)
    Api(81, 0, 0, quorum_api.remove_raft_voter),            # RemoveRaftVoter
)}


# Transactions version 2 (KIP-890 part 2) is these request versions; a client uses it
# once ApiVersions finalizes transaction.version 2, so the level follows what is served.
TV2_VERSIONS = {0: 12, 26: 5, 28: 5}  # Produce, EndTxn, TxnOffsetCommit
SHARE_APIS = (76, 78, 79)  # ShareGroupHeartbeat, ShareFetch, ShareAcknowledge
FEATURES_SINCE = 3  # ApiVersions v3+ carries the features (tagged fields)
ALL_FEATURES_SINCE = 4  # KIP-1022: below v4, a supported feature whose minimum is 0 is left out
# kraft's features never change while it runs: one epoch (Kafka's is a metadata offset;
# clients only compare it with -1, "unknown", and with earlier answers)
FINALIZED_FEATURES_EPOCH = 0


def transaction_version() -> int:
    """The transaction.version this listener supports and finalizes (2 or 0)."""
    served = all(key in SERVED and SERVED[key].max_version >= v for key, v in TV2_VERSIONS.items())
    return 2 if served else 0


def share_version() -> int:
    """The share.version this listener supports and finalizes (KIP-932: 1 once the share
    group APIs are served, 0 otherwise)."""
    return 1 if all(key in SERVED for key in SHARE_APIS) else 0


def features(api_version: int) -> dict:
    """ApiVersions' feature fields, as a Kafka 4 broker of a new cluster answers them:
    transaction.version supported 0..2 and finalized at 2, share.version 0..1 and
    finalized at 1 (a level 0 is not listed)."""
    if api_version < FEATURES_SINCE:
        return {}
    levels = [("share.version", share_version()), ("transaction.version", transaction_version())]
    return {
        "supported_features": [{"name": name, "min_version": 0, "max_version": level}
                               for name, level in levels if level > 0 and api_version >= ALL_FEATURES_SINCE],
        "finalized_features_epoch": FINALIZED_FEATURES_EPOCH,
        "finalized_features": [{"name": name, "min_version_level": level, "max_version_level": level}
                               for name, level in levels if level > 0],
    }


def api_versions_answer(error_code: int, api_version: int = 0) -> dict:
    return {"error_code": error_code, "throttle_time": 0,
            "api_keys": [{"api_key": a.key, "min_version": a.min_version, "max_version": a.max_version}
                         for a in sorted(SERVED.values(), key=lambda a: a.key)],
            **features(api_version)}
