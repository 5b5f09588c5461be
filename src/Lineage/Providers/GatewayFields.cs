namespace Lineage.Providers;

/// <summary>
/// Keys LiteLLM's proxy reads in each section of config.yaml (from its documentation). Only these sections are
/// checked for unknown keys; anything nested deeper (callback settings, cache params, guardrail bodies) is free-form.
/// </summary>
internal static class GatewayFields
{
    public static readonly HashSet<string> TopLevel = Set(
        "model_list", "litellm_settings", "router_settings", "general_settings", "environment_variables", "include",
        "guardrails", "callback_settings", "mcp_servers", "mcp_aliases", "credential_list", "files_settings", "finetune_settings",
        "vector_store_registry", "assistant_settings", "search_tools", "prompts", "pass_through_endpoints", "agent_list");

    public static readonly HashSet<string> ModelEntry = Set("model_name", "litellm_params", "model_info", "tpm", "rpm");

    public static readonly HashSet<string> LitellmParams = Set(
        "model", "api_key", "api_base", "api_version", "organization", "timeout", "stream_timeout", "max_retries", "rpm", "tpm",
        "custom_llm_provider", "drop_params", "additional_drop_params", "litellm_credential_name", "headers", "extra_headers", "extra_body",
        "temperature", "max_tokens", "max_completion_tokens", "top_p", "top_k", "seed", "stop", "n", "presence_penalty", "frequency_penalty",
        "response_format", "reasoning_effort", "thinking", "tools", "tool_choice", "parallel_tool_calls", "user", "logprobs", "top_logprobs",
        "input_cost_per_token", "output_cost_per_token", "input_cost_per_second", "output_cost_per_second", "input_cost_per_pixel",
        "output_cost_per_pixel", "cache_creation_input_token_cost", "cache_read_input_token_cost",
        "aws_access_key_id", "aws_secret_access_key", "aws_session_token", "aws_region_name", "aws_session_name", "aws_profile_name",
        "aws_role_name", "aws_web_identity_token", "aws_sts_endpoint", "aws_bedrock_runtime_endpoint", "aws_external_id",
        "vertex_project", "vertex_location", "vertex_credentials", "vertex_ai_project", "vertex_ai_location",
        "azure_ad_token", "azure_ad_token_provider", "azure_username", "azure_password", "azure_scope", "tenant_id", "client_id", "client_secret",
        "region_name", "watsonx_region_name", "project_id", "space_id", "deployment_id", "base_model", "model_id", "mock_response",
        "use_in_pass_through", "use_litellm_proxy", "merge_reasoning_content_in_choices", "configurable_clientside_auth_params",
        "cache_control_injection_points", "tags", "weight", "order", "max_budget", "budget_duration", "api_type", "num_retries",
        "auto_router_config_path", "auto_router_config", "auto_router_default_model", "auto_router_embedding_model",
        "guardrails", "metadata", "litellm_trace_id", "mock_timeout", "ssl_verify", "stream", "supports_system_message",
        "input_cost_per_character", "output_cost_per_character", "vertex_ai_credentials", "dimensions", "encoding_format");

    public static readonly HashSet<string> RouterSettings = Set(
        "routing_strategy", "routing_strategy_args", "model_group_alias", "num_retries", "timeout", "stream_timeout", "retry_after",
        "allowed_fails", "allowed_fails_policy", "cooldown_time", "disable_cooldowns", "fallbacks", "context_window_fallbacks",
        "content_policy_fallbacks", "default_fallbacks", "max_fallbacks", "retry_policy", "model_group_retry_policy",
        "redis_host", "redis_port", "redis_password", "redis_url", "redis_db", "cache_responses", "cache_kwargs", "caching_groups",
        "client_ttl", "polling_interval", "enable_pre_call_checks", "optional_pre_call_checks", "enable_tag_filtering", "tag_filtering_match_any",
        "provider_budget_config", "default_max_parallel_requests", "default_priority", "default_litellm_params", "set_verbose", "debug_level",
        "alerting_config", "assistants_config", "router_general_settings", "deployment_affinity", "model_group_affinity",
        "ignore_invalid_deployments", "search_tools", "guardrail_list", "enable_health_check_routing", "pass_through_all_models");

    public static readonly HashSet<string> LitellmSettings = Set(
        "success_callback", "failure_callback", "callbacks", "service_callbacks", "service_callback", "turn_off_message_logging",
        "redact_user_api_key_info", "langfuse_default_tags", "modify_params", "enable_preview_features", "set_verbose", "json_logs",
        "request_timeout", "force_ipv4", "drop_params", "additional_drop_params", "num_retries", "fallbacks", "context_window_fallbacks",
        "content_policy_fallbacks", "default_fallbacks", "cache", "cache_params", "enable_caching_on_provider_specific_optional_params",
        "disable_end_user_cost_tracking", "disable_end_user_cost_tracking_prometheus_only", "key_generation_settings",
        "disable_add_transform_inline_image_block", "disable_hf_tokenizer_download", "enable_json_schema_validation",
        "max_parallel_requests", "max_internal_user_budget", "internal_user_budget_duration", "max_end_user_budget",
        "default_internal_user_params", "default_team_settings", "default_key_generate_params", "upperbound_key_generate_params",
        "public_teams", "content_policy_fallback", "allowed_fails", "cooldown_time", "telemetry", "upperbound_key_generate_params",
        "reasoning_auto_summary", "return_response_headers", "use_client_credentials_pass_through_routes", "disable_token_counter",
        "disable_copilot_system_to_assistant", "redact_messages_in_exceptions", "default_redis_batch_cache_expiry", "callback_settings",
        "mcp_aliases", "guardrails", "logging", "global_disable_no_log_param", "disable_aiohttp_transport", "disable_aiohttp_trust_env",
        "force_ipv4", "ssl_verify", "ssl_certificate", "ssl_security_level", "ssl_ecdh_curve", "check_provider_endpoint",
        "prometheus_initialize_budget_metrics", "max_budget", "budget_duration", "cache_control_injection_points",
        "drop_params_for", "default_max_tokens", "api_base", "api_version", "tag_budget_config", "default_team_disabled",
        "disable_background_health_check", "enable_azure_ad_token_refresh", "datadog_params", "s3_callback_params", "gcs_bucket_name");

    public static readonly HashSet<string> GeneralSettings = Set(
        "master_key", "database_url", "database_connection_pool_limit", "database_connection_timeout", "allow_requests_on_db_unavailable",
        "store_model_in_db", "store_prompts_in_spend_logs", "disable_prisma_schema_update", "custom_auth", "custom_auth_settings",
        "max_parallel_requests", "global_max_parallel_requests", "max_request_size_mb", "max_response_size_mb", "infer_model_from_keys",
        "background_health_checks", "health_check_interval", "health_check_details", "health_check_concurrency", "alerting",
        "alerting_threshold", "alerting_args", "alert_types", "alert_to_webhook_url", "spend_report_frequency", "ui_access_mode",
        "allowed_routes", "admin_only_routes", "public_routes", "key_management_system", "key_management_settings",
        "use_google_kms", "use_azure_key_vault", "use_x_forwarded_for", "use_client_credentials_pass_through_routes",
        "enforce_user_param", "enable_jwt_auth", "litellm_jwtauth", "allowed_ips", "disable_spend_logs", "disable_error_logs",
        "disable_adding_master_key_hash_to_db", "disable_master_key_return", "disable_retry_on_max_parallel_request_limit_error",
        "disable_reset_budget", "disable_responses_id_security", "proxy_batch_write_at", "proxy_budget_rescheduler_min_time",
        "proxy_budget_rescheduler_max_time", "enable_oauth2_auth", "enable_oauth2_proxy_auth", "oauth2_config_mappings",
        "pass_through_endpoints", "service_account_settings", "user_header_name", "user_header_mappings", "forward_client_headers_to_llm_api",
        "forward_openai_org_id", "maximum_spend_logs_retention_period", "maximum_spend_logs_retention_interval", "reject_clientside_metadata_tags",
        "enable_public_model_hub", "store_audit_logs", "disable_end_user_cost_tracking", "embedding_model", "completion_model",
        "moderation_model", "default_team_disabled", "max_budget", "budget_duration", "role_permissions", "enable_mcp_registry",
        "mcp_server_ids", "allow_client_side_credentials", "control_plane_url", "supported_db_objects", "cache_control_injection_points");

    public static readonly HashSet<string> ModelInfo = Set(
        "id", "mode", "base_model", "metadata", "description", "access_groups", "team_id", "team_public_model_name", "tier", "health_check_model",
        "health_check_timeout", "disable_background_health_check", "max_tokens", "max_input_tokens", "max_output_tokens",
        "input_cost_per_token", "output_cost_per_token", "input_cost_per_second", "output_cost_per_second",
        "cache_creation_input_token_cost", "cache_read_input_token_cost", "input_cost_per_token_batches", "output_cost_per_token_batches",
        "supports_function_calling", "supports_parallel_function_calling", "supports_vision", "supports_system_messages",
        "supports_response_schema", "supports_tool_choice", "supports_prompt_caching", "supports_reasoning", "supports_audio_input",
        "supports_audio_output", "supports_pdf_input", "supports_web_search", "supports_computer_use", "supports_embedding_image_input",
        "supports_assistant_prefill", "litellm_provider", "db_model", "updated_at", "updated_by", "created_at", "created_by", "direct_access",
        "tpm", "rpm", "key", "output_vector_size", "supported_openai_params", "tags");

    private static HashSet<string> Set(params string[] keys) => new(keys, StringComparer.Ordinal);

    /// <summary>The closest known key within two edits, for "did you mean …" messages.</summary>
    public static string? Closest(string key, HashSet<string> known)
    {
        string? best = null;
        int bestDistance = 3;
        foreach (var candidate in known)
        {
            if (Math.Abs(candidate.Length - key.Length) >= bestDistance) continue;
            int d = Distance(key.ToLowerInvariant(), candidate, bestDistance);
            if (d < bestDistance)
            {
                bestDistance = d;
                best = candidate;
            }
        }
        return best;
    }

    /// <summary>Levenshtein distance, giving up (returning <paramref name="cap"/>) once it reaches the cap.</summary>
    private static int Distance(string a, string b, int cap)
    {
        if (a.Length > 128 || b.Length > 128) return cap;
        var previous = new int[b.Length + 1];
        var current = new int[b.Length + 1];
        for (int j = 0; j <= b.Length; j++) previous[j] = j;
        for (int i = 1; i <= a.Length; i++)
        {
            current[0] = i;
            int rowMin = i;
            for (int j = 1; j <= b.Length; j++)
            {
                int cost = a[i - 1] == b[j - 1] ? 0 : 1;
                current[j] = Math.Min(Math.Min(current[j - 1] + 1, previous[j] + 1), previous[j - 1] + cost);
                rowMin = Math.Min(rowMin, current[j]);
            }
            if (rowMin >= cap) return cap;
            (previous, current) = (current, previous);
        }
        return Math.Min(previous[b.Length], cap);
    }
}
