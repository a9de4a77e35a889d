#include "etcdmon/cli/silence.h"

#include <nlohmann/json.hpp>
#include <ostream>
#include <vector>

#include "etcdmon/cli/table.h"
#include "etcdmon/config/exit_codes.h"
#include "etcdmon/config/flags.h"
#include "etcdmon/http/fetcher.h"

namespace etcdmon::cli {
namespace {

using config::kExitFailed;
using nlohmann::json;

std::string Trimmed(std::string url) {
  while (!url.empty() && url.back() == '/') url.pop_back();
  return url;
}

// The silences' URL (`suffix`: "" or "/ID"), with the cluster and `query` ("state=all").
std::string SilencesUrl(const SilenceOptions& options, const std::string& suffix,
                        const std::string& query = "") {
  std::string url = Trimmed(options.api_url) + "/api/v1/alerts/silences" + suffix;
  std::string params = query;
  if (!options.cluster.empty()) {
    // A validated name: letters, digits, '_', '-', '.': nothing to escape.
    params += (params.empty() ? "" : "&") + std::string("cluster=") + options.cluster;
  }
  return params.empty() ? url : url + "?" + params;
}

// The API's own error message, or the status line when the body is not the API's JSON.
std::string ErrorOf(const http::HttpResponse& response) {
  json body = json::parse(response.body, nullptr, false);
  if (body.is_object() && body.contains("error") && body["error"].is_object()) {
    return body["error"].value("message", "") + " (HTTP " + std::to_string(response.status_code) +
           ")";
  }
  return "HTTP " + std::to_string(response.status_code);
}

// With `with_state`, the silence's state ("active", "expired") ends the row.
std::vector<std::string> Row(const json& s, bool with_state = false) {
  auto text = [&](const char* key) {
    return s.contains(key) && s[key].is_string() ? s[key].get<std::string>() : std::string();
  };
  std::vector<std::string> row = {text("id"), text("rule").empty() ? "*" : text("rule"),
                                  text("member").empty() ? "*" : text("member"), text("expires_at"),
                                  text("comment")};
  if (with_state) {
    row.push_back(text("state"));
  }
  return row;
}

const std::vector<std::string> kHeader = {"id", "rule", "member", "expires at", "comment"};
const std::vector<std::string> kHeaderWithState = {"id",         "rule",    "member",
                                                   "expires at", "comment", "state"};

Result<std::unique_ptr<http::HttpFetcher>> Fetcher(const SilenceOptions& options) {
  http::FetcherOptions fetcher;
  fetcher.tls = options.tls;
  fetcher.timeout = std::chrono::seconds(10);
  return http::HttpFetcher::Create(fetcher);
}

}  // namespace

int RunSilenceCreate(const SilenceOptions& options, std::ostream& out, std::ostream& err) {
  if (options.duration.count() <= 0) {
    err << "error: --for: how long the silence lasts is required (e.g. --for=2h)\n";
    return config::kExitUsage;
  }
  if (options.api_token.empty()) {
    err << "error: creating a silence needs the API token (--api-token-file or API_TOKEN)\n";
    return config::kExitUsage;
  }
  Result<std::unique_ptr<http::HttpFetcher>> fetcher = Fetcher(options);
  if (!fetcher.ok()) {
    err << "error: " << fetcher.status().message() << "\n";
    return kExitFailed;
  }
  json body = {{"duration", std::to_string(options.duration.count()) + "ms"},
               {"comment", options.comment}};
  if (!options.rule.empty()) body["rule"] = options.rule;
  if (!options.member.empty()) body["member"] = options.member;
  Result<http::HttpResponse> response =
      (*fetcher)->Post(SilencesUrl(options, ""), body.dump(),
                       {{"Content-Type", "application/json"},
                        {"Authorization", "Bearer " + options.api_token.Reveal()}});
  if (!response.ok()) {
    err << "error: " << response.status().message() << "\n";
    return kExitFailed;
  }
  if (response->status_code != 201) {
    err << "error: the silence was not created: " << ErrorOf(*response) << "\n";
    return kExitFailed;
  }
  if (options.json) {
    out << response->body << "\n";
    return 0;
  }
  json created = json::parse(response->body, nullptr, false);
  if (!created.is_object()) {
    err << "error: the API answered 201 without a JSON silence\n";
    return kExitFailed;
  }
  out << RenderTable(kHeader, {Row(created)});
  return 0;
}

int RunSilenceList(const SilenceOptions& options, std::ostream& out, std::ostream& err) {
  Result<std::unique_ptr<http::HttpFetcher>> fetcher = Fetcher(options);
  if (!fetcher.ok()) {
    err << "error: " << fetcher.status().message() << "\n";
    return kExitFailed;
  }
  Result<http::HttpResponse> response =
      (*fetcher)->Get(SilencesUrl(options, "", options.all ? "state=all" : ""));
  if (!response.ok()) {
    err << "error: " << response.status().message() << "\n";
    return kExitFailed;
  }
  if (response->status_code != 200) {
    err << "error: " << ErrorOf(*response) << "\n";
    return kExitFailed;
  }
  if (options.json) {
    out << response->body << "\n";
    return 0;
  }
  json list = json::parse(response->body, nullptr, false);
  std::vector<std::vector<std::string>> rows;
  if (list.is_object() && list.contains("silences") && list["silences"].is_array()) {
    for (const json& s : list["silences"]) {
      if (s.is_object()) rows.push_back(Row(s, options.all));
    }
  }
  out << RenderTable(options.all ? kHeaderWithState : kHeader, rows);
  return 0;
}

int RunSilenceExpire(const SilenceOptions& options, std::ostream& out, std::ostream& err) {
  if (options.id.empty()) {
    err << "error: the id of the silence to expire is required (see: etcd-monitor silence "
           "list)\n";
    return config::kExitUsage;
  }
  // The id goes into the URL's path: only the characters silence ids are made of.
  const bool well_formed =
      options.id.size() <= 128 && options.id.find_first_not_of(
                                      "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                      "0123456789-_") == std::string::npos;
  if (!well_formed) {
    err << "error: \"" << options.id.substr(0, 64)
        << "\" is not a silence id (up to 128 of a-z, A-Z, 0-9, '-', '_')\n";
    return config::kExitUsage;
  }
  if (options.api_token.empty()) {
    err << "error: expiring a silence needs the API token (--api-token-file or API_TOKEN)\n";
    return config::kExitUsage;
  }
  Result<std::unique_ptr<http::HttpFetcher>> fetcher = Fetcher(options);
  if (!fetcher.ok()) {
    err << "error: " << fetcher.status().message() << "\n";
    return kExitFailed;
  }
  Result<http::HttpResponse> response =
      (*fetcher)->Delete(SilencesUrl(options, "/" + options.id),
                         {{"Authorization", "Bearer " + options.api_token.Reveal()}});
  if (!response.ok()) {
    err << "error: " << response.status().message() << "\n";
    return kExitFailed;
  }
  if (response->status_code != 200) {
    err << "error: the silence was not expired: " << ErrorOf(*response) << "\n";
    return kExitFailed;
  }
  if (options.json) {
    out << response->body << "\n";
    return 0;
  }
  json expired = json::parse(response->body, nullptr, false);
  if (!expired.is_object()) {
    err << "error: the API answered 200 without a JSON silence\n";
    return kExitFailed;
  }
  out << RenderTable(kHeaderWithState, {Row(expired, /*with_state=*/true)});
  return 0;
}

}  // namespace etcdmon::cli
