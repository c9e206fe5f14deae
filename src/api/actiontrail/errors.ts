/**
 * Errors of the RPC endpoint in Alibaba Cloud's shape and statuses.
 *
 * Errors raised by code shared with the REST API (trails, lookup) carry FlinkTrail codes; here
 * they become the codes ActionTrail clients and Terraform match on (`TrailNotFoundException`,
 * `InvalidParameter`, ...), with ActionTrail's status. The RPC endpoint's own errors
 * (`FT_ERR_RPC_*` in src/errors) already carry Alibaba codes. The body always has `Code`: pop-core
 * decides failure by it, openapi-client by the status.
 */
import type { ErrorCode, FlinkTrailError } from '../../errors/index.js';

export interface RpcErrorBody {
  RequestId: string;
  HostId: string;
  Code: string;
  Message: string;
  Recommend: string;
}

/** FlinkTrail errors of shared code → ActionTrail's code and status. Documented in docs/reference/actiontrail-api.md. */
export const RPC_CODES: Partial<Record<ErrorCode, { code: string; status: number }>> = {
  FT_ERR_TRAIL_NOT_FOUND: { code: 'TrailNotFoundException', status: 404 },
  FT_ERR_TRAIL_ALREADY_EXISTS: { code: 'TrailAlreadyExistsException', status: 400 },
  FT_ERR_TRAIL_INVALID_NAME: { code: 'InvalidTrailNameException', status: 400 },
  FT_ERR_TRAIL_INVALID_PARAMETER: { code: 'InvalidParameter', status: 400 },
  FT_ERR_TRAIL_NO_DESTINATION: { code: 'InvalidParameter', status: 400 },
  FT_ERR_TRAIL_INVALID_DESTINATION: { code: 'InvalidParameter', status: 400 },
  FT_ERR_TRAIL_UNKNOWN_REGION: { code: 'InvalidParameter', status: 400 },
  FT_ERR_REGION_UNKNOWN: { code: 'InvalidStorageRegion', status: 400 },
  FT_ERR_QUERY_INVALID_PARAMETER: { code: 'InvalidParameter', status: 400 },
  FT_ERR_QUERY_UNKNOWN_PARAMETER: { code: 'InvalidParameter', status: 400 },
  FT_ERR_QUERY_TIME_RANGE: { code: 'InvalidParameter', status: 400 },
  FT_ERR_QUERY_BAD_TOKEN: { code: 'InvalidParameter', status: 400 },
  FT_ERR_REQUEST_INVALID: { code: 'InvalidParameter', status: 400 },
  FT_ERR_JOURNAL_UNAVAILABLE: { code: 'ServiceUnavailable', status: 503 },
  FT_ERR_SERVER_INTERNAL: { code: 'InternalError', status: 500 },
};

export function rpcCode(err: FlinkTrailError): { code: string; status: number } {
  return RPC_CODES[err.code] ?? { code: err.apiCode, status: err.status };
}

export function rpcErrorBody(requestId: string, hostId: string, err: FlinkTrailError): RpcErrorBody {
  const { code } = rpcCode(err);
  return {
    RequestId: requestId,
    HostId: hostId,
    Code: code,
    Message: err.message,
    Recommend: `See docs/reference/actiontrail-api.md#errors and docs/reference/errors.md (${err.code}); request id ${requestId}.`,
  };
}
