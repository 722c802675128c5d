// The npm `secp256k1` package ships no types; the three calls the kit's merchant uses.
declare module "secp256k1" {
  const secp256k1: {
    publicKeyCreate(sk: Uint8Array, compressed?: boolean): Uint8Array;
    ecdsaSign(msg32: Uint8Array, sk: Uint8Array): { signature: Uint8Array; recid: number };
    ecdsaVerify(sig64: Uint8Array, msg32: Uint8Array, pub: Uint8Array): boolean;
  };
  export default secp256k1;
}
