/**
 * A V1-signed ActionTrail RPC GET (Signature Version 1.0, HMAC-SHA1), signed with Alibaba
 * Cloud's own signer (@alicloud/openapi-util), as the SDKs sign it.
 */
import OpenApiUtilModule from '@alicloud/openapi-util';
import type { Credentials } from './flinktrail.js';

// A CommonJS package compiled from TypeScript: its `default` export is a property of the module.
const OpenApiUtil = OpenApiUtilModule.default;

/** The URL of `action` with `params` on the RPC endpoint at `apiUrl`, signed for `cred`. */
export function signedRpcUrl(apiUrl: string, cred: Credentials, action: string, params: Record<string, string>): string {
  const all: Record<string, string> = {
    Format: 'JSON',
    Version: '2020-07-06',
    AccessKeyId: cred.accessKeyId,
    SignatureMethod: 'HMAC-SHA1',
    SignatureVersion: '1.0',
    SignatureNonce: `n${Math.random().toString(16).slice(2)}${Date.now()}`,
    Timestamp: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'),
    Action: action,
    ...params,
  };
  all['Signature'] = OpenApiUtil.getRPCSignature(all, 'GET', cred.accessKeySecret);
  return `${apiUrl}/?${new URLSearchParams(all).toString()}`;
}
