#pragma once
// The rounding certificate as JSON (internal): the "rounding" object of
// verify's and design's JSON.
#include "json_support.hpp"

#include "polar_express/solver/rounding.hpp"

namespace polar_express::detail {

Json rounding_json(const RoundingCertificate& certificate);

}  // namespace polar_express::detail
