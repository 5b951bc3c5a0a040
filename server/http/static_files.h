// The web UI's files over HTTP: the bundle compiled into the binary, or a directory (--webui-path,
// for UI development), sent gzip-compressed where the file is stored so (inflated for a client that
// does not take gzip), with ETag / 304, immutable caching for hashed assets, no-cache for the page,
// and a strict Content-Security-Policy.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "server/http/http_session.h"

namespace tandem {

// The policy the page runs under: scripts, styles, fonts and API calls from this origin only; no
// inline script or style, no plugins, no framing, no form posts, no <base>.
extern const char* const webui_content_security_policy;

class static_site {
  public:
    static static_site embedded();                   // webui/dist as compiled in
    static static_site directory(std::string root);  // files under `root`, read at each request

    // The reply to a GET of `path` ("/" is "/index.html"), or nullopt if there is no such file.
    std::optional<http_response> respond(const http_request& req, std::string_view path) const;
    bool has(std::string_view path) const;

  private:
    struct file {
        std::string_view bytes;  // gzip-compressed if `gz`
        bool gz = true;
        std::string etag;  // quoted, of the stored bytes
    };
    std::optional<file> find(std::string_view path, std::string& storage) const;

    std::map<std::string, file, std::less<>> files_;  // embedded: "/index.html" -> ...
    std::string root_;                                // directory mode when not empty
};

// Helpers, exposed for tests.
bool accepts_gzip(std::string_view accept_encoding);  // gzip (or *) listed without q=0
std::string gunzip(std::string_view gz);              // throws tandem::error on corrupt input

}  // namespace tandem
