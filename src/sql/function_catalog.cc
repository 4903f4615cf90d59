// The function families and the reviewed list. Sources: PostgreSQL 15's pg_proc (every function
// with provolatile = 'v', the *_to_xml functions, which are stable, and the stable functions that
// assign a transaction id), the documentation of each function, and adminpack, which installs
// its file functions into pg_catalog.
#include "sql/function_catalog.h"

#include <unordered_map>

namespace jg::sql {

namespace {

// Run SQL text the gateway never parsed, or read relations named in a string or a cursor: what
// they read (or run: query_to_xml('select pg_terminate_backend(1)', ...)) is invisible.
// ts_stat runs its query argument; ts_rewrite(tsquery, text) runs a SELECT (the three-argument
// form does not, but shares the name); currtid2 reads a relation named by text; logical decoding
// returns the changes of every table.
constexpr std::string_view kSqlText[] = {
    "currtid2",
    "cursor_to_xml",
    "cursor_to_xmlschema",
    "database_to_xml",
    "database_to_xml_and_xmlschema",
    "database_to_xmlschema",
    "pg_logical_slot_get_binary_changes",
    "pg_logical_slot_get_changes",
    "pg_logical_slot_peek_binary_changes",
    "pg_logical_slot_peek_changes",
    "query_to_xml",
    "query_to_xml_and_xmlschema",
    "query_to_xmlschema",
    "schema_to_xml",
    "schema_to_xml_and_xmlschema",
    "schema_to_xmlschema",
    "table_to_xml",
    "table_to_xml_and_xmlschema",
    "table_to_xmlschema",
    "ts_rewrite",
    "ts_stat",
};

constexpr std::string_view kSequence[] = {"nextval", "setval"};

// Every large-object function: they read and write objects by OID, which no table rule names.
constexpr std::string_view kLargeObject[] = {
    "lo_close",  "lo_creat",    "lo_create",     "lo_export", "lo_from_bytea", "lo_get",
    "lo_import", "lo_lseek",    "lo_lseek64",    "lo_open",   "lo_put",        "lo_tell",
    "lo_tell64", "lo_truncate", "lo_truncate64", "lo_unlink", "loread",        "lowrite",
};

constexpr std::string_view kNotify[] = {"pg_notify"};

// Advisory locks outlive the statement (session locks outlive the transaction).
constexpr std::string_view kLock[] = {
    "pg_advisory_lock",
    "pg_advisory_lock_shared",
    "pg_advisory_unlock",
    "pg_advisory_unlock_all",
    "pg_advisory_unlock_shared",
    "pg_advisory_xact_lock",
    "pg_advisory_xact_lock_shared",
    "pg_try_advisory_lock",
    "pg_try_advisory_lock_shared",
    "pg_try_advisory_xact_lock",
    "pg_try_advisory_xact_lock_shared",
};

constexpr std::string_view kSet[] = {"set_config"};

// Signal server processes. pg_signal_backend and pg_logfile_rotate (adminpack) are not callable
// in a stock PostgreSQL 15 but are listed for servers where they are.
constexpr std::string_view kSignal[] = {
    "pg_cancel_backend",     "pg_log_backend_memory_contexts",
    "pg_logfile_rotate",     "pg_promote",
    "pg_reload_conf",        "pg_rotate_logfile",
    "pg_rotate_logfile_old", "pg_signal_backend",
    "pg_terminate_backend",
};

// Read, list or write files of the server (configuration files included); the pg_file_* and
// pg_logdir_ls functions are adminpack's.
constexpr std::string_view kServerFiles[] = {
    "lo_export",
    "lo_import",
    "pg_current_logfile",
    "pg_file_length",
    "pg_file_read",
    "pg_file_rename",
    "pg_file_sync",
    "pg_file_unlink",
    "pg_file_write",
    "pg_hba_file_rules",
    "pg_ident_file_mappings",
    "pg_logdir_ls",
    "pg_ls_archive_statusdir",
    "pg_ls_dir",
    "pg_ls_logdir",
    "pg_ls_logicalmapdir",
    "pg_ls_logicalsnapdir",
    "pg_ls_replslotdir",
    "pg_ls_tmpdir",
    "pg_ls_waldir",
    "pg_read_binary_file",
    "pg_read_file",
    "pg_read_file_old",
    "pg_show_all_file_settings",
    "pg_stat_file",
};

// Change the server, its statistics, WAL, backups, replication or the catalogs outside DDL.
// binary_upgrade_* and pg_stop_making_pinned_objects work only in pg_upgrade's or initdb's
// server, pg_extension_config_dump only inside CREATE EXTENSION; they are listed all the same.
// pg_start_backup and pg_stop_backup are the names before PostgreSQL 15.
constexpr std::string_view kServerAdmin[] = {
    "binary_upgrade_create_empty_extension",
    "binary_upgrade_set_missing_value",
    "binary_upgrade_set_next_array_pg_type_oid",
    "binary_upgrade_set_next_heap_pg_class_oid",
    "binary_upgrade_set_next_heap_relfilenode",
    "binary_upgrade_set_next_index_pg_class_oid",
    "binary_upgrade_set_next_index_relfilenode",
    "binary_upgrade_set_next_multirange_array_pg_type_oid",
    "binary_upgrade_set_next_multirange_pg_type_oid",
    "binary_upgrade_set_next_pg_authid_oid",
    "binary_upgrade_set_next_pg_enum_oid",
    "binary_upgrade_set_next_pg_tablespace_oid",
    "binary_upgrade_set_next_pg_type_oid",
    "binary_upgrade_set_next_toast_pg_class_oid",
    "binary_upgrade_set_next_toast_relfilenode",
    "binary_upgrade_set_record_init_privs",
    "pg_backup_start",
    "pg_backup_stop",
    "pg_copy_logical_replication_slot",
    "pg_copy_physical_replication_slot",
    "pg_create_logical_replication_slot",
    "pg_create_physical_replication_slot",
    "pg_create_restore_point",
    "pg_drop_replication_slot",
    "pg_extension_config_dump",
    "pg_import_system_collations",
    "pg_logical_emit_message",
    "pg_logical_slot_get_binary_changes",
    "pg_logical_slot_get_changes",
    "pg_nextoid",
    "pg_replication_origin_advance",
    "pg_replication_origin_create",
    "pg_replication_origin_drop",
    "pg_replication_origin_session_reset",
    "pg_replication_origin_session_setup",
    "pg_replication_origin_xact_reset",
    "pg_replication_origin_xact_setup",
    "pg_replication_slot_advance",
    "pg_start_backup",
    "pg_stat_reset",
    "pg_stat_reset_replication_slot",
    "pg_stat_reset_shared",
    "pg_stat_reset_single_function_counters",
    "pg_stat_reset_single_table_counters",
    "pg_stat_reset_slru",
    "pg_stat_reset_subscription_stats",
    "pg_stop_backup",
    "pg_stop_making_pinned_objects",
    "pg_switch_wal",
    "pg_wal_replay_pause",
    "pg_wal_replay_resume",
};

// Index maintenance run as a function: like VACUUM, it changes the index.
constexpr std::string_view kMaintenance[] = {
    "brin_desummarize_range",
    "brin_summarize_new_values",
    "brin_summarize_range",
    "gin_clean_pending_list",
};

constexpr FunctionFamily kFamilies[] = {
    {Kind::kSqlText, kSqlText},
    {Kind::kSequence, kSequence},
    {Kind::kLargeObject, kLargeObject},
    {Kind::kNotify, kNotify},
    {Kind::kLock, kLock},
    {Kind::kSet, kSet},
    {Kind::kSignal, kSignal},
    {Kind::kServerFiles, kServerFiles},
    {Kind::kServerAdmin, kServerAdmin},
    {Kind::kMaintenance, kMaintenance},
};

// Reviewed: volatile (or xid-assigning) pg_catalog functions of PostgreSQL 15 with no side
// effect the policy must see. Each group says why.
constexpr std::string_view kReviewed[] = {
    // Trigger functions: PostgreSQL refuses to call them outside a trigger.
    "RI_FKey_cascade_del",
    "RI_FKey_cascade_upd",
    "RI_FKey_check_ins",
    "RI_FKey_check_upd",
    "RI_FKey_noaction_del",
    "RI_FKey_noaction_upd",
    "RI_FKey_restrict_del",
    "RI_FKey_restrict_upd",
    "RI_FKey_setdefault_del",
    "RI_FKey_setdefault_upd",
    "RI_FKey_setnull_del",
    "RI_FKey_setnull_upd",
    "suppress_redundant_updates_trigger",
    "tsvector_update_trigger",
    "tsvector_update_trigger_column",
    "unique_key_recheck",
    // Handlers that take or return `internal` (no SQL call can supply one) and the language
    // handlers of PL/pgSQL; plpgsql_validator only compiles a function to check it.
    "bernoulli",
    "brinhandler",
    "bthandler",
    "dsnowball_init",
    "dsnowball_lexize",
    "ginhandler",
    "gisthandler",
    "hashhandler",
    "heap_tableam_handler",
    "plpgsql_call_handler",
    "plpgsql_inline_handler",
    "plpgsql_validator",
    "spghandler",
    "system",
    "amvalidate",
    // Time, randomness and waiting. setseed changes only this session's random() sequence;
    // pg_sleep* only wait (statement_timeout or a `functions:` rule bounds them).
    "clock_timestamp",
    "gen_random_uuid",
    "pg_sleep",
    "pg_sleep_for",
    "pg_sleep_until",
    "random",
    "setseed",
    "timeofday",
    // Read this session's state: its query, its sequences' last values, its statistics
    // snapshot (pg_stat_clear_snapshot drops it; pg_stat_force_next_flush sends its counters).
    "current_query",
    "currval",
    "lastval",
    "pg_sequence_last_value",
    "pg_stat_clear_snapshot",
    "pg_stat_force_next_flush",
    "pg_stat_get_xact_blocks_fetched",
    "pg_stat_get_xact_blocks_hit",
    "pg_stat_get_xact_function_calls",
    "pg_stat_get_xact_function_self_time",
    "pg_stat_get_xact_function_total_time",
    "pg_stat_get_xact_numscans",
    "pg_stat_get_xact_tuples_deleted",
    "pg_stat_get_xact_tuples_fetched",
    "pg_stat_get_xact_tuples_hot_updated",
    "pg_stat_get_xact_tuples_inserted",
    "pg_stat_get_xact_tuples_returned",
    "pg_stat_get_xact_tuples_updated",
    "pg_stat_have_stats",
    // Assign this transaction an id: nothing another session sees until the transaction's own
    // statements (decided on their own) change something.
    "pg_current_xact_id",
    "txid_current",
    // Export this transaction's snapshot so that another transaction can read the same data.
    "pg_export_snapshot",
    // Read server state like the pg_stat_* views: locks, WAL and recovery positions, control
    // file fields, transaction status, sizes, memory, collation versions, partitions.
    "pg_blocking_pids",
    "pg_collation_actual_version",
    "pg_control_checkpoint",
    "pg_control_init",
    "pg_control_recovery",
    "pg_control_system",
    "pg_current_wal_flush_lsn",
    "pg_current_wal_insert_lsn",
    "pg_current_wal_lsn",
    "pg_database_collation_actual_version",
    "pg_database_size",
    "pg_get_backend_memory_contexts",
    "pg_get_multixact_members",
    "pg_get_shmem_allocations",
    "pg_get_wal_replay_pause_state",
    "pg_get_wal_resource_managers",
    "pg_indexes_size",
    "pg_is_in_recovery",
    "pg_is_wal_replay_paused",
    "pg_isolation_test_session_is_blocked",
    "pg_jit_available",
    "pg_last_committed_xact",
    "pg_last_wal_receive_lsn",
    "pg_last_wal_replay_lsn",
    "pg_last_xact_replay_timestamp",
    "pg_lock_status",
    "pg_notification_queue_usage",
    "pg_partition_ancestors",
    "pg_partition_tree",
    "pg_prepared_xact",
    "pg_relation_size",
    "pg_safe_snapshot_blocking_pids",
    "pg_stat_get_recovery_prefetch",
    "pg_table_size",
    "pg_tablespace_size",
    "pg_total_relation_size",
    "pg_xact_commit_timestamp",
    "pg_xact_commit_timestamp_origin",
    "pg_xact_status",
    "txid_status",
    // Read replication origin progress (pg_replication_origin_progress may flush WAL up to it).
    "pg_replication_origin_progress",
    "pg_replication_origin_session_is_setup",
    "pg_replication_origin_session_progress",
    "pg_show_replication_origin_status",
};

const std::unordered_map<std::string_view, KindSet>& index() {
  static const std::unordered_map<std::string_view, KindSet> m = [] {
    std::unordered_map<std::string_view, KindSet> out;
    for (const FunctionFamily& f : kFamilies) {
      for (std::string_view name : f.functions) {
        out[name].add(f.kind);
      }
    }
    return out;
  }();
  return m;
}

}  // namespace

std::span<const FunctionFamily> functionFamilies() {
  return kFamilies;
}

KindSet builtinFunctionKinds(std::string_view name) {
  const auto& m = index();
  auto it = m.find(name);
  return it == m.end() ? KindSet() : it->second;
}

KindSet builtinCallKinds(std::string_view schema, std::string_view name) {
  if (!schema.empty() && schema != "pg_catalog") {
    return {};
  }
  return builtinFunctionKinds(name);
}

std::span<const std::string_view> reviewedFunctions() {
  return kReviewed;
}

}  // namespace jg::sql
