package metal

// Every Objective-C message the backend sends, with the argument and
// result kinds it is sent with. TestMessagesMatchMetalCpp checks each
// entry against Apple's declarations (the metal-cpp headers in
// testdata/metal-cpp: selector string, class, argument and result types);
// the fake runtime of the tests refuses any message not in this table.

// abiKind is how an argument or result travels in the arm64 calling
// convention.
type abiKind uint8

const (
	kVoid   abiKind = iota // no result
	kID                    // an object pointer (x register)
	kPtr                   // a pointer to memory, a block or a SEL (x register)
	kUInt                  // NSUInteger, uint64_t, or an enum or options of NSUInteger base (x register)
	kInt                   // NSInteger or an enum of NSInteger base (x register)
	kBool                  // BOOL: one byte in a w register (the upper bits of a result are undefined)
	kSize                  // MTLSize by value: 24 bytes, passed by reference to a caller's copy
	kDouble                // double (CFTimeInterval), in a d register
)

func (k abiKind) String() string {
	return [...]string{"void", "id", "ptr", "NSUInteger", "NSInteger", "BOOL", "MTLSize", "double"}[k]
}

// message is one message the backend sends.
type message struct {
	sel   string    // the selector
	class string    // the metal-cpp class declaring it ("MTL::Device")
	args  []abiKind // the arguments after self and _cmd
	ret   abiKind
	// classMethod is true for messages sent to a class object.
	classMethod bool
}

// msgID indexes messages.
type msgID int

const (
	msgAlloc msgID = iota
	msgInit
	msgRetain
	msgRelease
	msgRespondsToSelector
	msgInitWithCString
	msgUTF8String
	msgLocalizedDescription
	msgDomain
	msgCode
	msgProcessInfo
	msgOSVersionString

	msgDeviceName
	msgNewCommandQueue
	msgNewBufferWithLength
	msgNewBufferWithBytes
	msgNewBufferWithBytesNoCopy
	msgNewLibraryWithSource
	msgNewComputePipelineState
	msgMaxBufferLength
	msgMaxThreadgroupMemoryLength
	msgHasUnifiedMemory
	msgSupportsFamily
	msgRecommendedMaxWorkingSetSize
	msgCurrentAllocatedSize

	msgCommandBuffer
	msgComputeCommandEncoder
	msgCommit
	msgStatus
	msgCommandBufferError
	msgGPUStartTime
	msgGPUEndTime

	msgSetComputePipelineState
	msgSetBuffer
	msgSetBytes
	msgSetThreadgroupMemoryLength
	msgDispatchThreadgroups
	msgEndEncoding

	msgContents
	msgLength

	msgNewFunctionWithName
	msgMaxTotalThreadsPerThreadgroup
	msgThreadExecutionWidth
	msgStaticThreadgroupMemoryLength

	msgSetLanguageVersion
	msgSetFastMathEnabled
	msgSetMathMode

	numMsgs
)

var messages = [numMsgs]message{
	msgAlloc:                {sel: "alloc", class: "NS::Object", ret: kID, classMethod: true},
	msgInit:                 {sel: "init", class: "NS::Object", ret: kID},
	msgRetain:               {sel: "retain", class: "NS::Referencing", ret: kID},
	msgRelease:              {sel: "release", class: "NS::Referencing", ret: kVoid},
	msgRespondsToSelector:   {sel: "respondsToSelector:", class: "NS::Object", args: []abiKind{kPtr}, ret: kBool},
	msgInitWithCString:      {sel: "initWithCString:encoding:", class: "NS::String", args: []abiKind{kPtr, kUInt}, ret: kID},
	msgUTF8String:           {sel: "UTF8String", class: "NS::String", ret: kPtr},
	msgLocalizedDescription: {sel: "localizedDescription", class: "NS::Error", ret: kID},
	msgDomain:               {sel: "domain", class: "NS::Error", ret: kID},
	msgCode:                 {sel: "code", class: "NS::Error", ret: kInt},
	msgProcessInfo:          {sel: "processInfo", class: "NS::ProcessInfo", ret: kID, classMethod: true},
	msgOSVersionString:      {sel: "operatingSystemVersionString", class: "NS::ProcessInfo", ret: kID},

	msgDeviceName:                   {sel: "name", class: "MTL::Device", ret: kID},
	msgNewCommandQueue:              {sel: "newCommandQueue", class: "MTL::Device", ret: kID},
	msgNewBufferWithLength:          {sel: "newBufferWithLength:options:", class: "MTL::Device", args: []abiKind{kUInt, kUInt}, ret: kID},
	msgNewBufferWithBytes:           {sel: "newBufferWithBytes:length:options:", class: "MTL::Device", args: []abiKind{kPtr, kUInt, kUInt}, ret: kID},
	msgNewBufferWithBytesNoCopy:     {sel: "newBufferWithBytesNoCopy:length:options:deallocator:", class: "MTL::Device", args: []abiKind{kPtr, kUInt, kUInt, kPtr}, ret: kID},
	msgNewLibraryWithSource:         {sel: "newLibraryWithSource:options:error:", class: "MTL::Device", args: []abiKind{kID, kID, kPtr}, ret: kID},
	msgNewComputePipelineState:      {sel: "newComputePipelineStateWithFunction:error:", class: "MTL::Device", args: []abiKind{kID, kPtr}, ret: kID},
	msgMaxBufferLength:              {sel: "maxBufferLength", class: "MTL::Device", ret: kUInt},
	msgMaxThreadgroupMemoryLength:   {sel: "maxThreadgroupMemoryLength", class: "MTL::Device", ret: kUInt},
	msgHasUnifiedMemory:             {sel: "hasUnifiedMemory", class: "MTL::Device", ret: kBool},
	msgSupportsFamily:               {sel: "supportsFamily:", class: "MTL::Device", args: []abiKind{kInt}, ret: kBool},
	msgRecommendedMaxWorkingSetSize: {sel: "recommendedMaxWorkingSetSize", class: "MTL::Device", ret: kUInt},
	msgCurrentAllocatedSize:         {sel: "currentAllocatedSize", class: "MTL::Device", ret: kUInt},

	msgCommandBuffer:         {sel: "commandBuffer", class: "MTL::CommandQueue", ret: kID},
	msgComputeCommandEncoder: {sel: "computeCommandEncoder", class: "MTL::CommandBuffer", ret: kID},
	msgCommit:                {sel: "commit", class: "MTL::CommandBuffer", ret: kVoid},
	msgStatus:                {sel: "status", class: "MTL::CommandBuffer", ret: kUInt},
	msgCommandBufferError:    {sel: "error", class: "MTL::CommandBuffer", ret: kID},
	msgGPUStartTime:          {sel: "GPUStartTime", class: "MTL::CommandBuffer", ret: kDouble},
	msgGPUEndTime:            {sel: "GPUEndTime", class: "MTL::CommandBuffer", ret: kDouble},

	msgSetComputePipelineState:    {sel: "setComputePipelineState:", class: "MTL::ComputeCommandEncoder", args: []abiKind{kID}, ret: kVoid},
	msgSetBuffer:                  {sel: "setBuffer:offset:atIndex:", class: "MTL::ComputeCommandEncoder", args: []abiKind{kID, kUInt, kUInt}, ret: kVoid},
	msgSetBytes:                   {sel: "setBytes:length:atIndex:", class: "MTL::ComputeCommandEncoder", args: []abiKind{kPtr, kUInt, kUInt}, ret: kVoid},
	msgSetThreadgroupMemoryLength: {sel: "setThreadgroupMemoryLength:atIndex:", class: "MTL::ComputeCommandEncoder", args: []abiKind{kUInt, kUInt}, ret: kVoid},
	msgDispatchThreadgroups:       {sel: "dispatchThreadgroups:threadsPerThreadgroup:", class: "MTL::ComputeCommandEncoder", args: []abiKind{kSize, kSize}, ret: kVoid},
	msgEndEncoding:                {sel: "endEncoding", class: "MTL::CommandEncoder", ret: kVoid},

	msgContents: {sel: "contents", class: "MTL::Buffer", ret: kPtr},
	msgLength:   {sel: "length", class: "MTL::Buffer", ret: kUInt},

	msgNewFunctionWithName:           {sel: "newFunctionWithName:", class: "MTL::Library", args: []abiKind{kID}, ret: kID},
	msgMaxTotalThreadsPerThreadgroup: {sel: "maxTotalThreadsPerThreadgroup", class: "MTL::ComputePipelineState", ret: kUInt},
	msgThreadExecutionWidth:          {sel: "threadExecutionWidth", class: "MTL::ComputePipelineState", ret: kUInt},
	msgStaticThreadgroupMemoryLength: {sel: "staticThreadgroupMemoryLength", class: "MTL::ComputePipelineState", ret: kUInt},

	msgSetLanguageVersion: {sel: "setLanguageVersion:", class: "MTL::CompileOptions", args: []abiKind{kUInt}, ret: kVoid},
	msgSetFastMathEnabled: {sel: "setFastMathEnabled:", class: "MTL::CompileOptions", args: []abiKind{kBool}, ret: kVoid},
	msgSetMathMode:        {sel: "setMathMode:", class: "MTL::CompileOptions", args: []abiKind{kInt}, ret: kVoid},
}

// Metal constants (values from the metal-cpp headers; the tests read them
// there too).
const (
	// resourceStorageModeShared | resourceHazardTrackingModeDefault: CPU
	// and GPU share the memory, Metal tracks hazards between dispatches.
	resourceStorageModeShared = 0
	// languageVersion3_0 is MTLLanguageVersion3_0 (macOS 13).
	languageVersion3_0 = 196608
	// mathModeSafe is MTLMathModeSafe (macOS 15): no fast math.
	mathModeSafe = 0
	// gpuFamilyApple7 is MTLGPUFamilyApple7 (M1 and later).
	gpuFamilyApple7 = 1007
	// Command buffer statuses (MTLCommandBufferStatus).
	statusNotEnqueued = 0
	statusEnqueued    = 1
	statusCommitted   = 2
	statusScheduled   = 3
	statusCompleted   = 4
	statusError       = 5
)
