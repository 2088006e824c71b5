//! Remuxes the video track of an MP4 with roeh-mp4: `cargo run -p roeh-mp4 --example remux IN OUT`.
//! Prints the codec parameters and sample count; handy for checking output with other tools.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let [_, input, output] = args.as_slice() else {
        return Err("usage: remux IN OUT".into());
    };
    let file = std::fs::read(input)?;
    let track = roeh_mp4::read_video_track(&file)?;
    for p in &track.params {
        println!(
            "{} {}x{} {}",
            p.codec.as_str(),
            p.width,
            p.height,
            p.rfc6381
        );
    }
    let infos = track.sample_infos_90k()?;
    let mut samples = Vec::with_capacity(infos.len());
    for (i, info) in infos.into_iter().enumerate() {
        samples.push((
            info,
            track.sample_data(&file, i).ok_or("sample outside file")?,
        ));
    }
    let params: Vec<&roeh_domain::CodecParams> = track.params.iter().collect();
    let out = std::fs::File::create(output)?;
    let len = roeh_mp4::write_mp4(
        &params,
        &samples,
        std::io::BufWriter::new(out),
        &Default::default(),
    )?;
    println!("{} samples, {len} bytes", samples.len());
    Ok(())
}
