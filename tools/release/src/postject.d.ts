// Types of the part of postject's API the release uses (the package ships none).
declare module 'postject' {
  const postject: {
    inject(filename: string, resourceName: string, resourceData: Buffer, options?: { sentinelFuse?: string; machoSegmentName?: string; overwrite?: boolean }): Promise<void>;
  };
  export default postject;
}
