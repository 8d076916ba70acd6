/**
 * TypeScript skeletons: the generator (`tsbpf gen skeleton`) and the runtime a generated module
 * imports. A generated module imports `defineSkeleton` and the types below from its
 * `importFrom` module (default "tsbpf"), so the package root re-exports all of them.
 */
export { generateSkeleton, type GenerateSkeletonOptions } from "./generate.js";
export {
  defineSkeleton,
  type Skeleton, type OpenSkeleton, type SkeletonTypes, type SkeletonDescriptor, type SkeletonDefinition,
  type SkeletonLoadOptions, type SkeletonAttachOptions, type SkeletonLinks, type GlobalsInput,
} from "./runtime.js";
export { TypedMap } from "../map/typed.js";
export { BpfMap } from "../map/map.js";
export { Program } from "../prog/program.js";
export { Link } from "../link/link.js";
