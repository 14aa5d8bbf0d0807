"""The kwargs of DockerOperator and KubernetesPodOperator (docker provider 4.4-4.6,
cncf-kubernetes 10.9-10.25), so that a DAG written for one backend still parses
where only the other provider is installed: a kwarg of the backend not in use is
set aside, and only a kwarg of no backend at all is an error.
"""

from __future__ import annotations

DOCKER_KWARGS: frozenset[str] = frozenset(
    {
        "api_version", "auto_remove", "cap_add", "command", "container_name", "cpus",
        "device_requests", "dns", "dns_search", "docker_conn_id", "docker_url", "entrypoint",
        "env_file", "environment", "extra_hosts", "force_pull", "host_tmp_dir", "hostname",
        "image", "ipc_mode", "labels", "log_opts_max_file", "log_opts_max_size", "mem_limit",
        "mount_tmp_dir", "mounts", "network_mode", "port_bindings", "private_environment",
        "privileged", "retrieve_output", "retrieve_output_path", "shm_size",
        "skip_on_exit_code", "timeout", "tls_ca_cert", "tls_client_cert", "tls_client_key",
        "tls_hostname", "tls_ssl_version", "tls_verify", "tmp_dir", "tty", "ulimits", "user",
        "working_dir", "xcom_all",
    }
)

KUBERNETES_KWARGS: frozenset[str] = frozenset(
    {
        "active_deadline_seconds", "affinity", "annotations", "arguments",
        "automount_service_account_token", "base_container_name",
        "base_container_status_polling_interval", "callbacks", "cluster_context", "cmds",
        "config_file", "configmaps", "container_logs", "container_name_log_prefix_enabled",
        "container_resources", "container_security_context", "deferrable", "dns_config",
        "dnspolicy", "do_xcom_push", "durable", "env_from", "env_vars", "full_pod_spec",
        "get_logs", "host_aliases", "hostname", "hostnetwork", "image", "image_pull_policy",
        "image_pull_secrets", "in_cluster", "init_container_logs", "init_containers",
        "is_delete_operator_pod", "kubernetes_conn_id", "labels", "log_events_on_failure",
        "log_events_on_startup", "log_formatter", "log_pod_spec_on_failure", "logging_interval",
        "name", "namespace", "node_selector", "on_finish_action", "on_kill_action",
        "pod_runtime_info_envs", "pod_template_dict", "pod_template_file", "poll_interval",
        "ports", "priority_class_name", "progress_callback", "random_name_suffix",
        "reattach_on_restart", "runtime_class_name", "schedule_timeout_seconds",
        "schedulername", "secrets", "security_context", "service_account_name",
        "skip_on_exit_code", "startup_check_interval_seconds", "startup_timeout_seconds",
        "subdomain", "termination_grace_period", "termination_message_policy", "tolerations",
        "trigger_kwargs", "volume_mounts", "volumes", "xcom_sidecar_container_security_context",
    }
)
