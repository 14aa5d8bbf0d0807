# frozen_string_literal: true

# task-runner's Ruby shim: runs one rendered ruby_script with the Airflow context.
#
#     <ruby> shim input.json result.json error.txt
#
# The Rust side embeds this file, writes it next to input.json in a private temp dir and
# runs it with the image's Ruby. The protocol (input fields, exit codes, file semantics)
# is specified in runners/PROTOCOL.md and mirrors the Python shim; keep them in step.
# Standard library only (json, date).

require 'json'
require 'date'

module TaskRunner
  # Exit codes (PROTOCOL.md "Exit codes"). 3, 4 and 5 only mean what they say when
  # error.txt is non-empty: a script's own `exit 3` leaves error.txt empty.
  EXIT_OK = 0
  EXIT_RAISED = 1
  EXIT_LOAD = 3
  EXIT_RESULT = 4
  EXIT_PROTOCOL = 5

  SUMMARY_MAX_CHARS = 6000 # the Rust side masks secrets, then cuts to the 4 KiB termination message
  SHIM_FILE = __FILE__ # backtraces name files as they were given to ruby
  RETURN_TAG = Object.new.freeze # thrown by xcom_return
  UNSET = Object.new.freeze

  # A failure the shim classified itself: exit code + one-line summary (+ cause).
  class ShimError < StandardError
    attr_reader :code, :original

    def initialize(code, summary, original = nil)
      super(summary)
      @code = code
      @original = original
    end
  end

  class << self
    attr_reader :script, :script_name
  end

  # --- Context: JSON in, Airflow-shaped objects out ------------------------------------

  ISO_RE = /\A(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?)?(Z|z|[+-]\d{2}(?::?\d{2})?)?\z/

  # ISO-8601 string -> Time. UTC offsets give a UTC Time (Airflow's dates are UTC);
  # other offsets are kept. No offset means UTC, as in Airflow.
  def self.parse_time(text)
    m = ISO_RE.match(text.strip) or raise ArgumentError, "not an ISO-8601 datetime: #{text.inspect}"
    year, month, day, hour, min, sec, frac, offset = m.captures
    seconds = sec.to_i + Rational((frac || '0')[0, 6].ljust(6, '0').to_i, 1_000_000)
    parts = [year.to_i, month.to_i, day.to_i, hour.to_i, min.to_i, seconds]
    return Time.utc(*parts) if offset.nil? || offset.match?(/\A(?:[Zz]|[+-]00:?0{0,2})\z/)

    digits = offset[1..].delete(':')
    Time.new(*parts, format('%s%s:%s', offset[0], digits[0, 2], digits[2, 2] || '00'))
  end

  # dag_run, dag, task: a Hash that also answers methods (`dag_run.conf`, `dag_run['conf']`).
  class Record
    def initialize(hash)
      @hash = hash
    end

    def [](key)
      @hash[key.to_s]
    end

    def to_h
      @hash
    end

    def method_missing(name, *args)
      args.empty? && @hash.key?(name.to_s) ? @hash[name.to_s] : super
    end

    def respond_to_missing?(name, include_private = false)
      @hash.key?(name.to_s) || super
    end

    def inspect
      "#<Record #{@hash.inspect}>"
    end
  end

  # The slice of Airflow's TaskInstance a container task can use: ids and xcom_pull.
  class TaskInstance
    attr_reader :dag_id, :task_id, :run_id, :try_number, :map_index

    def initialize(fields, xcoms, airflow_major = 2)
      @dag_id = fields['dag_id']
      @task_id = fields['task_id']
      @run_id = fields['run_id']
      @try_number = fields.fetch('try_number', 1)
      @map_index = fields.fetch('map_index', -1)
      @airflow_major = airflow_major
      @xcoms = xcoms.map do |entry|
        { 'task_id' => entry['task_id'], 'key' => entry.fetch('key', 'return_value'),
          'value' => entry['value'], 'map_index' => entry['map_index'] || -1,
          'dag_id' => entry['dag_id'] || @dag_id, 'run_id' => entry['run_id'] || @run_id }
      end
    end

    def inspect
      "#<TaskInstance #{@dag_id}.#{@task_id} #{@run_id} map_index=#{@map_index}>"
    end

    # TaskInstance.xcom_pull over the injected XComs as the payload's Airflow major selects
    # (PROTOCOL.md 3.3; the case table is fixtures/xcom_pull.json, from real Airflow).
    # task_ids, dag_id, key and include_prior_dates may also be given positionally, as in
    # Python.
    def xcom_pull(*positional, task_ids: UNSET, dag_id: UNSET, key: UNSET, include_prior_dates: UNSET,
                  map_indexes: UNSET, default: nil, run_id: UNSET)
      raise ArgumentError, "xcom_pull: at most 4 positional arguments, got #{positional.size}" if positional.size > 4

      named = { task_ids: task_ids, dag_id: dag_id, key: key, include_prior_dates: include_prior_dates }
      given = named.keys.first(positional.size).zip(positional).to_h.merge(named.reject { |_, v| v.equal?(UNSET) }) do |name, _, _|
        raise ArgumentError, "xcom_pull: multiple values for #{name}"
      end
      task_ids = given.fetch(:task_ids, nil)
      dag_id = given.fetch(:dag_id, nil)
      key = given.fetch(:key, 'return_value')
      key = key.to_s unless key.nil?
      task_ids = task_ids.to_s if task_ids.is_a?(Symbol)
      if @airflow_major >= 3
        return xcom_pull3(task_ids, dag_id, key, map_indexes, default, run_id)
      end
      raise ArgumentError, "TaskInstance.xcom_pull() got an unexpected keyword argument 'run_id'" unless run_id.equal?(UNSET)

      map_indexes = nil if map_indexes.equal?(UNSET)
      dag_ids = dag_id.nil? ? [@dag_id] : Array(dag_id)
      single_task = task_ids.nil? || task_ids.is_a?(String)
      multi_map = !map_indexes.nil? && !map_indexes.is_a?(Integer)
      wanted_tasks = task_ids.nil? ? nil : (single_task ? [task_ids] : task_ids.map(&:to_s))
      wanted_maps = map_indexes.nil? ? nil : (multi_map ? map_indexes.to_a : [map_indexes])

      # `if key:` in Airflow 2: nil and '' match any key.
      found = @xcoms.select do |x|
        dag_ids.include?(x['dag_id']) && x['run_id'] == @run_id && (key.nil? || key.empty? || x['key'] == key) &&
          (wanted_tasks.nil? || wanted_tasks.include?(x['task_id'])) &&
          (wanted_maps.nil? || wanted_maps.include?(x['map_index']))
      end

      if single_task && !multi_map
        return default if found.empty?
        # A mapped upstream pulled without map_indexes yields all its values, by map_index.
        return found.first['value'] if !map_indexes.nil? || found.first['map_index'].negative?

        return stable_sort(found) { |x| [x['map_index']] }.map { |x| x['value'] }
      end
      # Multi-value pull: ordered by position in task_ids (by task_id for a single task),
      # then by position in map_indexes (else by map_index), as Airflow orders its query.
      stable_sort(found) do |x|
        [single_task ? x['task_id'].to_s : wanted_tasks.index(x['task_id']),
         multi_map ? wanted_maps.index(x['map_index']) : x['map_index']]
      end.map { |x| x['value'] }
    end

    def xcom_push(*)
      raise NotImplementedError, 'xcom_push is not available in task-runner: only the value ' \
                                 'the script returns becomes an XCom (key `return_value`)'
    end

    private

    # Airflow 3's Task SDK: XCom.get_all per task without map_indexes (every map index, in
    # order; a task with none gives nil), else XCom.get_one per task and index (a missing
    # or null value gives `default`).
    def xcom_pull3(task_ids, dag_id, key, map_indexes, default, run_id)
      raise ArgumentError, 'xcom_pull: key must be a string on Airflow 3, not nil' if key.nil?
      raise ArgumentError, 'xcom_pull: key must not be empty on Airflow 3' if key.empty?

      dag_id = @dag_id if dag_id.nil?
      run_id = @run_id if run_id.equal?(UNSET) || run_id.nil?
      single_task = task_ids.nil? || task_ids.is_a?(String)
      tasks = task_ids.nil? ? [@task_id] : (single_task ? [task_ids] : task_ids.map(&:to_s))
      of_task = lambda do |task_id|
        @xcoms.select do |x|
          x['task_id'] == task_id && x['key'] == key && x['dag_id'] == dag_id.to_s && x['run_id'] == run_id
        end
      end
      if map_indexes.equal?(UNSET)
        out = tasks.flat_map do |task_id|
          found = of_task.call(task_id)
          found.empty? ? [nil] : stable_sort(found) { |x| [x['map_index']] }.map { |x| x['value'] }
        end
        return single_task && out.size == 1 ? out.first : out
      end
      single_map = map_indexes.nil? || map_indexes.is_a?(Integer)
      maps = single_map ? [map_indexes] : map_indexes.to_a
      out = tasks.flat_map do |task_id|
        found = of_task.call(task_id)
        maps.map do |m|
          hit = found.find { |x| !m.nil? && x['map_index'] == m && !x['value'].nil? }
          hit ? hit['value'] : default
        end
      end
      single_task && single_map ? out.first : out
    end

    def stable_sort(items)
      items.each_with_index.sort_by { |x, i| yield(x) + [i] }.map(&:first)
    end
  end

  def self.convert_times(context, paths)
    paths.each do |path|
      *parents, last = path.split('.')
      holder = parents.reduce(context) { |h, k| h.is_a?(Hash) ? h[k] : nil }
      next unless holder.is_a?(Hash) && holder[last].is_a?(String)

      begin
        holder[last] = parse_time(holder[last])
      rescue ArgumentError => e
        raise ShimError.new(EXIT_PROTOCOL, "ArgumentError: input.json context `#{path}`: #{e.message}")
      end
    end
  end

  def self.build_context(spec)
    context = spec['context'] || {}
    raise ShimError.new(EXIT_PROTOCOL, 'TypeError: input.json `context` must be an object') unless context.is_a?(Hash)

    convert_times(context, spec['datetime_keys'] || [])
    fields = context['ti'] || context['task_instance']
    ti = TaskInstance.new(fields.is_a?(Hash) ? fields : {}, spec['xcom'] || [], spec['airflow_major'] || 2)
    context['ti'] = context['task_instance'] = ti
    %w[dag_run dag task].each { |name| context[name] = Record.new(context[name]) if context[name].is_a?(Hash) }
    context['dag_run'].to_h['conf'] ||= {} if context['dag_run'].is_a?(Record)
    [context, ti]
  end

  # --- Return value -> strict JSON -------------------------------------------------------

  IDENT_RE = /\A[A-Za-z_][A-Za-z0-9_]*\z/

  def self.child_path(path, key)
    return "#{path}[#{key}]" if key.is_a?(Integer)

    key.match?(IDENT_RE) ? "#{path}.#{key}" : "#{path}[#{JSON.generate(key)}]"
  end

  def self.class_name(value)
    value.class.name || value.class.inspect
  end

  def self.unserializable(value, path, hint = '')
    ShimError.new(EXIT_RESULT, "TypeError: return value of type `#{class_name(value)}` is not " \
                               "JSON serializable (at `#{path}`)#{hint}")
  end

  # Strings must end up valid UTF-8. Binary/ASCII strings are taken as UTF-8 bytes
  # (File.read, Net::HTTP bodies); other encodings are transcoded.
  def self.utf8(str, path)
    s = if [Encoding::UTF_8, Encoding::BINARY, Encoding::US_ASCII].include?(str.encoding)
          str.dup.force_encoding(Encoding::UTF_8)
        else
          str.encode(Encoding::UTF_8)
        end
    return s if s.valid_encoding?

    raise ShimError.new(EXIT_RESULT, "JSON::GeneratorError: return value has a String (#{str.encoding}) that is not " \
                                     "valid UTF-8 (at `#{path}`)")
  rescue EncodingError => e
    raise ShimError.new(EXIT_RESULT, "JSON::GeneratorError: return value has a String that cannot be converted to " \
                                     "UTF-8 (at `#{path}`): #{e.message}")
  end

  def self.float_text(value, path)
    return value.to_s if value.finite?

    raise ShimError.new(EXIT_RESULT, "JSON::GeneratorError: return value contains #{value}, which strict JSON " \
                                     "cannot represent (at `#{path}`)")
  end

  # Python's isoformat(): microseconds only when non-zero, offset as +HH:MM.
  def self.time_text(time)
    frac = time.usec.zero? ? '' : format('.%06d', time.usec)
    time.strftime('%Y-%m-%dT%H:%M:%S') + frac + time.strftime('%:z')
  end

  # json.dumps's key coercions, so both shims agree.
  def self.key_text(key, path)
    case key
    when String, Symbol then utf8(key.to_s, path)
    when Integer then key.to_s
    when Float then float_text(key, path)
    when true, false, nil then key.nil? ? 'null' : key.to_s
    else raise ShimError.new(EXIT_RESULT, "TypeError: Hash key of type `#{class_name(key)}` is not a " \
                                          "string (at `#{path}`)")
    end
  end

  def self.encode(value, path, out, active)
    case value
    when nil then out << 'null'
    when true, false then out << value.to_s
    when String, Symbol then out << JSON.generate(utf8(value.to_s, path))
    when Integer then out << value.to_s
    when Float then out << float_text(value, path)
    when Time then out << %("#{time_text(value)}")
    when DateTime then out << %("#{value.iso8601}") # before Date: DateTime is a Date
    when Date then out << %("#{value.iso8601}")
    when Hash, Array
      raise ShimError.new(EXIT_RESULT, "JSON::GeneratorError: return value has a circular reference (at `#{path}`)") \
        if active.key?(value.object_id)

      active[value.object_id] = true
      value.is_a?(Hash) ? encode_hash(value, path, out, active) : encode_array(value, path, out, active)
      active.delete(value.object_id)
    else
      if defined?(BigDecimal) && value.is_a?(BigDecimal) && value.finite?
        out << (value.frac.zero? ? value.to_i.to_s : value.to_s('F')) # exact digits
      else
        raise unserializable(value, path, value.is_a?(Enumerable) ? '; return an Array instead' : '')
      end
    end
  end

  def self.encode_hash(hash, path, out, active)
    out << '{'
    seen = {}
    hash.each_with_index do |(key, item), i|
      name = key_text(key, path)
      raise ShimError.new(EXIT_RESULT, "JSON::GeneratorError: return value has duplicate key `#{name}` once Hash " \
                                       "keys are strings (at `#{path}`)") if seen.key?(name)

      seen[name] = true
      out << ', ' unless i.zero?
      out << JSON.generate(name) << ': '
      encode(item, child_path(path, name), out, active)
    end
    out << '}'
  end

  def self.encode_array(array, path, out, active)
    out << '['
    array.each_with_index do |item, i|
      out << ', ' unless i.zero?
      encode(item, child_path(path, i), out, active)
    end
    out << ']'
  end

  def self.to_json_text(value)
    out = +''
    encode(value, '$', out, {})
    out
  rescue SystemStackError
    raise ShimError.new(EXIT_RESULT, 'JSON::NestingError: return value is nested too deeply to encode as JSON')
  end

  # --- Reporting ------------------------------------------------------------------------

  def self.one_line(text)
    text = text.to_s.dup.force_encoding(Encoding::UTF_8).scrub.split.join(' ')
    text.length > SUMMARY_MAX_CHARS ? "#{text[0, SUMMARY_MAX_CHARS - 1]}\u2026" : text
  end

  def self.write_error_file(path, summary)
    File.binwrite(path, one_line(summary))
  rescue StandardError => e
    warn "task-runner shim: cannot write #{path}: #{e.message}"
  end

  def self.exc_line(exc)
    message = exc.message.to_s
    message.empty? ? exc.class.name.to_s : "#{exc.class.name}: #{message}"
  end

  # Backtrace as Ruby prints it, minus the shim's frames, with the script's top level
  # shown as <main> rather than as the method that hosts the eval.
  def self.print_exception(exc)
    trace = (exc.backtrace || []).reject { |line| line.start_with?("#{SHIM_FILE}:") }
    return $stderr.puts("#{exc.message} (#{exc.class.name})") if trace.empty? # e.g. the script's SyntaxError

    exc.set_backtrace(trace.map { |line| line.sub(/(?:Object#)?__task_runner_scope/, '<main>') })
    $stderr.write(exc.full_message(highlight: false, order: :top))
  rescue StandardError
    $stderr.puts(exc_line(exc))
  end

  def self.fail_with(error, error_path)
    print_exception(error.original) if error.original
    $stderr.puts("task-runner: #{error.message}")
    write_error_file(error_path, error.message)
    error.code
  end

  # --- Running ----------------------------------------------------------------------------

  def self.read_input(path)
    spec = JSON.parse(File.binread(path).force_encoding(Encoding::UTF_8), max_nesting: false)
    return spec if spec.is_a?(Hash) && spec['kind'] == 'ruby'

    raise ShimError.new(EXIT_PROTOCOL, "ArgumentError: #{path} is not a ruby task input " \
                                       '(expected an object with "kind": "ruby")')
  rescue JSON::ParserError, SystemCallError, EncodingError => e
    raise ShimError.new(EXIT_PROTOCOL, "#{e.class.name}: cannot read #{path}: #{e.message}")
  end

  def self.prepare_process(spec)
    $stdout.sync = true # line-by-line log forwarding needs unbuffered output
    $stderr.sync = true
    # In a C/POSIX locale Ruby tags everything it reads as US-ASCII; task scripts expect UTF-8.
    Encoding.default_external = Encoding::UTF_8 if Encoding.default_external == Encoding::US_ASCII
    @script = spec['script']
    @script_name = spec['script_name'] || '<inline>'
    raise ShimError.new(EXIT_PROTOCOL, 'TypeError: input.json `script` must be a string') unless @script.is_a?(String)

    ARGV.replace((spec['args'] || []).map { |arg| arg.is_a?(String) ? arg : JSON.generate(arg) })
    $PROGRAM_NAME = @script_name # so `if __FILE__ == $0` blocks run, as for a real script
    $LOAD_PATH.unshift(*spec['load_path']) if spec['load_path'].is_a?(Array)
  end

  def self.main(argv)
    unless argv.size == 3
      warn 'usage: ruby shim INPUT_JSON RESULT_JSON ERROR_TXT'
      return EXIT_PROTOCOL
    end
    input_path, result_path, error_path = argv.map { |p| File.expand_path(p) }
    begin
      spec = read_input(input_path)
      prepare_process(spec)
      context, ti = build_context(spec)
      params = context['params'] || {}
      value = catch(RETURN_TAG) { __task_runner_scope(context, params, ti, context['dag_run']) }
    rescue ShimError => e
      return fail_with(e, error_path)
    rescue SystemExit => e
      # `exit n` passes through; abort('msg') also leaves its message for error.txt.
      write_error_file(error_path, "SystemExit: #{e.message}") unless e.success? || e.message == 'exit'
      return e.status
    rescue SignalException
      raise # let Ruby die by the signal, so the exit status says so
    rescue Exception => e # rubocop:disable Lint/RescueException -- the script failed, however
      return raised(e, error_path)
    end
    finish(value, spec, result_path, error_path)
  end

  def self.raised(exc, error_path)
    # A SyntaxError with no frame in the script was raised by the eval itself, before
    # any line ran: the script could not load. Later ones come from the script's own
    # eval/require and are ordinary failures.
    if exc.is_a?(SyntaxError) && (exc.backtrace || []).none? { |line| line.start_with?("#{@script_name}:") }
      return fail_with(ShimError.new(EXIT_LOAD, "SyntaxError: cannot compile ruby_script " \
                                                "`#{@script_name}`: #{exc.message}", exc), error_path)
    end
    print_exception(exc)
    write_error_file(error_path, exc_line(exc))
    EXIT_RAISED
  end

  def self.finish(value, spec, result_path, error_path)
    return EXIT_OK if value.nil? || spec['do_xcom_push'] == false

    data = to_json_text(value)
    begin
      # The rename keeps a killed shim from leaving a half-written file behind.
      File.binwrite("#{result_path}.tmp", data)
      File.rename("#{result_path}.tmp", result_path)
    rescue SystemCallError => e
      raise ShimError.new(EXIT_PROTOCOL, "#{e.class.name}: cannot write #{result_path}: #{e.message}")
    end
    EXIT_OK
  rescue ShimError => e
    fail_with(e, error_path)
  end
end

# The script's scope: exactly these locals, `self` is main, `return value` ends the
# script with that value, and its last expression is the result otherwise.
def __task_runner_scope(context, params, ti, dag_run)
  eval(TaskRunner.script, binding, TaskRunner.script_name, 1) # rubocop:disable Security/Eval
end

# Ends the script now, making value the XCom (nil: no XCom).
def xcom_return(value = nil)
  throw TaskRunner::RETURN_TAG, value
end

exit(TaskRunner.main(ARGV.dup))
