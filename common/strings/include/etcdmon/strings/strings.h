#pragma once

// Small string helpers every library uses. Pure functions; safe for concurrent use.

#include <string>
#include <string_view>
#include <vector>

namespace etcdmon::strings {

/// `parts` joined with `separator` between them ("a, b, c"); "" for no parts.
std::string Join(const std::vector<std::string>& parts, std::string_view separator);

/// ASCII lower case; other bytes are left as they are.
std::string AsciiToLower(std::string_view text);

/// `text` without leading and trailing ASCII white space (space, \t, \n, \r, \f, \v).
std::string_view TrimAsciiWhitespace(std::string_view text);

/// Decodes base64 into `out` (replaced): the standard or the URL-safe alphabet, padded or not
/// (decoding stops at the first '='). False, with `out` unspecified, for any other character or
/// a length no encoder produces.
bool DecodeBase64(std::string_view text, std::string& out);

}  // namespace etcdmon::strings
