import { signCapability } from '../../shared/auth/capability-token';
import type { Principal } from '../../shared/auth/api-keys';
import type { LearnupletDoc, PredupletDoc, UpletDoc, UpletKind } from '../domain/documents';

/** The data blobs an uplet's task reads: nothing else may be opened with its capability. */
export function dataBlobsOf(kind: UpletKind, uplet: UpletDoc): string[] {
  const data = kind === 'learnuplet'
    ? [...(uplet as LearnupletDoc).train_data, ...(uplet as LearnupletDoc).test_data]
    : [(uplet as PredupletDoc).data];
  return [...new Set(data)].map((uuid) => `data/${uuid}`);
}

export type CapabilityIssuer = (kind: UpletKind, uplet: UpletDoc, holder: Principal) => string;

export function capabilityIssuer(secret: string, seconds: number): CapabilityIssuer {
  return (kind, uplet, holder) =>
    signCapability({ sub: holder.name, uplet: uplet.uuid, blobs: dataBlobsOf(kind, uplet), exp: Math.floor(Date.now() / 1000) + seconds }, secret);
}
